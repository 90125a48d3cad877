"""The first published code of conduct (loaded by the demo and by `seed_conduct`); later versions are
published by platform administrators in the admin."""

TITLE = "Accredited volunteer code of conduct"

TEXT = """\
You act for the police only when you are tasked, and only within what your tasking permits. Outside a tasking you do not investigate, watch or contact anyone as a volunteer.

Never initiate sexual conversation, never propose a meeting and never encourage anyone to offend. You may offer only an ordinary opportunity that the other person takes up of their own accord. Anything more can make the evidence unusable and put a child at greater risk.

Capture whole conversations from first contact, both sides, with nothing deleted or edited. Record what you did and when in your contemporaneous notes as you go. Upload originals only through this portal.

If you believe a real child is at risk, stop and tell your supervising officer at once, or call 999 in an emergency.

If you come across an indecent image of a child, do not save, copy, forward or screenshot it. Report it to your supervising officer through the portal and nowhere else.

Never confront anyone, never publish anything about a suspect or an operation, and never discuss your work outside the scheme. Everything you see is confidential and protected by law.

Look after yourself. Stop when material affects you, tell the welfare team, and attend your welfare screenings. Asking for support never counts against you.

Tell your supervising officer straight away about any arrest, charge, caution or change in your circumstances that could affect your vetting.
"""
