"""The admin site: sign-in goes through allauth (MFA, rate limits) and every change is audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.filters import RelatedFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import JSONField, Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.admin_readable import LabelledInlineMixin, ReadableAdminMixin
from portal.display import EMPTY
from portal.forms import StorableJSONField
from portal.permissions import scheme_filter


class AuditedAdminMixin:
    """Writes an audit event beside Django's own LogEntry for every admin add, change and delete."""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        from portal.audit import audit_record

        entry = super().log_addition(request, obj, message)
        audit_record(action="admin.add", obj=obj, request=request, detail={"repr": str(obj)[:200]})
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        from portal.audit import audit_record

        entry = super().log_change(request, obj, message)
        audit_record(
            action="admin.change", obj=obj, request=request, detail={"repr": str(obj)[:200], "changes": _plain(message)}
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        from portal.audit import audit_record

        for obj in queryset:
            audit_record(action="admin.delete", obj=obj, request=request, detail={"repr": str(obj)[:200]})
        return super().log_deletions(request, queryset)


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A "By tasking" (or any related-object) filter that offers only what the viewer's own change list
    holds, of their own scheme: never another scheme's operation names."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list:
        in_view = model_admin.get_queryset(request).values(f"{self.field_path}__pk")
        allowed = scheme_filter(field.remote_field.model._default_manager.all(), request.user).filter(pk__in=in_view)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False, limit_choices_to={"pk__in": allowed.values("pk")}, ordering=ordering
        )


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """The raw-id box names the chosen object only if the viewer may see it (its label is looked up
    outside the form's queryset, so a typed or URL-given id of another scheme would otherwise print it)."""

    def __init__(self, rel: Any, admin_site: Any, *, queryset: QuerySet, using: str | None = None) -> None:
        super().__init__(rel, admin_site, using=using)
        self.queryset = queryset

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = self.rel.get_related_field().name
        try:
            visible = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


class ScopedChoicesMixin:
    """Every choice an admin form offers from a related model — selects, multi-selects, raw-id labels,
    inline forms — comes from the viewer's scheme, through scheme_filter (the change lists' scoping)."""

    def get_field_queryset(self, db: str | None, db_field: Any, request: HttpRequest) -> QuerySet:
        queryset = super().get_field_queryset(db, db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.using(db).all()
        return scheme_filter(queryset, request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "widget" not in kwargs and db_field.name in self.raw_id_fields:
            kwargs["widget"] = ScopedRawIdWidget(
                db_field.remote_field,
                self.admin_site,
                queryset=self.get_field_queryset(kwargs.get("using"), db_field, request),
                using=kwargs.get("using"),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SoundInputAdminMixin:
    """What a person can post to any admin page gets an answer, not a server error: a selection of rows
    that are not ids (Django would compare text with an id and fail), and JSON fields (StorableJSONField)."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, JSONField):
            kwargs = {"form_class": StorableJSONField, **kwargs}
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> Any:
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        try:
            for value in selected:
                self.model._meta.pk.to_python(value)
        except ValidationError:
            self.message_user(
                request, "The selection could not be read, so nothing was done. Select the rows again.", "warning"
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


class ScopedAdminMixin(ScopedChoicesMixin):
    """The same for a whole ModelAdmin: its forms, its inlines' forms, and its list filters."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Third-party admins (allauth's e-mail addresses and authenticators) too: rows of the viewer's
        # scheme only, by the scope their model declares; the portal's own admins already filter the same way.
        return scheme_filter(super().get_queryset(request), request.user)

    def get_list_filter(self, request: HttpRequest) -> list:
        return [_scoped_filter(self.model, spec) for spec in super().get_list_filter(request)]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list:
        return [_scoped_inline(inline) for inline in super().get_inlines(request, obj)]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # Django looks an empty `?_to_field=` up as a field named "" and answers 500: empty means the pk.
        return super().get_object(request, object_id, from_field or None)


def _scoped_filter(model: Any, spec: Any) -> Any:
    path, filter_class = (spec, None) if isinstance(spec, str) else (spec if isinstance(spec, tuple) else (None, None))
    if path is None or filter_class not in (None, RelatedFieldListFilter, RelatedOnlyFieldListFilter):
        return spec  # a SimpleListFilter or a filter class of its own: it decides its choices itself
    try:
        field = get_fields_from_path(model, path)[-1]
    except FieldDoesNotExist:
        return spec
    return (path, ScopedRelatedFieldListFilter) if field.is_relation else spec


_SCOPED_INLINES: dict[type, type] = {}


def _scoped_inline(inline: type) -> type:
    if issubclass(inline, ScopedChoicesMixin):
        return inline
    if inline not in _SCOPED_INLINES:
        mixins = (ReadableAdminMixin, LabelledInlineMixin, ScopedChoicesMixin, SoundInputAdminMixin)
        _SCOPED_INLINES[inline] = type(inline.__name__, (*mixins, inline), {"__module__": inline.__module__})
    return _SCOPED_INLINES[inline]


def _plain(message: Any) -> Any:
    if isinstance(message, (list, dict, str)):
        import json

        return json.loads(json.dumps(message, default=str))
    return str(message)


class PortalAdminSite(admin.AdminSite):
    site_header = "Accredited Volunteer Portal — officer admin"
    site_title = "Officer admin"
    index_title = "Your scheme"
    site_url = None  # officers' home is the admin itself; "/" would only send them back here
    empty_value_display = EMPTY  # one mark for "nothing recorded", on every list and record page

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        # Every ModelAdmin — ours and third-party ones — is audited and offers choices of the viewer's
        # scheme only, without each one remembering to.
        admin_class = admin_class or admin.ModelAdmin
        wanted = (ReadableAdminMixin, AuditedAdminMixin, ScopedAdminMixin, SoundInputAdminMixin)
        mixins = tuple(mixin for mixin in wanted if not issubclass(admin_class, mixin))
        if mixins:
            admin_class = type(f"Portal{admin_class.__name__}", (*mixins, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        # The admin's own login form would bypass allauth's MFA and rate limits.
        next_url = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = ""
        next_url = next_url or reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if self.has_permission(request):  # staff who followed a link to the login page: take them on
                return HttpResponseRedirect(next_url)
            # Signed in, but not staff (a volunteer, a court recipient): say so rather than loop.
            raise PermissionDenied("Your account does not give access to the officer admin.")
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")

    def logout(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("account_logout"))

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            from evidence.models import SafeguardingAlert

            context["open_safeguarding_alerts"] = list(
                scheme_filter(SafeguardingAlert.objects.filter(acknowledged_at__isnull=True), user)
                .filter(Q(tasking__handler=user) | Q(tasking__controller=user))
                .select_related("tasking")[:10]
            )
        return context

    def index(self, request: HttpRequest, extra_context: Any = None) -> TemplateResponse:
        """The officer's home: what needs doing now, for their scheme, before the list of every record."""
        return super().index(request, {**(extra_context or {}), **self.home_tasks(request)})

    def home_tasks(self, request: HttpRequest) -> dict:
        """Each task the viewer may act on, from the apps' selectors (scoped to the viewer's scheme) in a
        constant number of queries; a task the viewer's role may not see is left out, not shown empty."""
        from evidence import admin_selectors as evidence
        from evidence.admin_selectors import SHOWN, Task
        from evidence.models import SafeguardingAlert
        from retention import selectors as retention
        from retention.person_disposal import people_to_review
        from retention.policy import may_approve_disposal, may_review_disposals, may_review_person_disposals
        from volunteers import selectors as volunteers

        user, tasks = request.user, {}
        if user.has_perm("evidence.view_safeguardingalert"):
            tasks["alerts"] = evidence.alerts_to_acknowledge(user)
            alert_admin = self._registry.get(SafeguardingAlert)
            tasks["may_acknowledge"] = bool(alert_admin and alert_admin.has_acknowledge_permission(request))
        if user.has_perm("evidence.view_exhibit"):
            tasks["exhibits"] = evidence.exhibits_awaiting_review(user)
        if user.has_perm("evidence.view_handoverbundle"):
            tasks["bundles"] = evidence.bundles_building_or_ready(user)
        if user.has_perm("volunteers.view_vettingrecord"):
            tasks["vetting_pending"] = Task(count=volunteers.vetting_in_progress(user).count())
            due = volunteers.vetting_falling_due(user)
            tasks["vetting_due"] = Task(count=due.count(), items=list(due[:SHOWN]))
        if user.has_perm("volunteers.view_volunteer") or user.has_perm("volunteers.view_screeningrecord"):
            tasks["screening_due"] = volunteers.screening_due(user).count()
            tasks["welfare_console"] = user.has_perm("volunteers.view_screeningrecord")
            tasks["screening_link"] = (
                reverse("welfare_console")
                if tasks["welfare_console"]
                else reverse("admin:volunteers_volunteer_changelist") + "?screening=due"
            )
        if user.has_perm("evidence.view_authorisation"):
            tasks["authorisations"] = evidence.authorisations_expiring(user)
        if may_review_disposals(user):
            rows = retention.disposal_review(user.scheme_id)
            awaiting = [row.proposal for row in rows if row.proposal is not None]
            tasks["disposal"] = Task(
                count=len(rows), items=[p for p in awaiting if may_approve_disposal(user, p)][:SHOWN]
            )
        if may_review_person_disposals(user):
            rows, awaiting = people_to_review(user)
            tasks["people_disposal"] = Task(count=len(rows), items=awaiting[:SHOWN])
        return {"tasks": tasks, "within_days": volunteers.DUE_WITHIN_DAYS}

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        # One place to change a password: allauth's, with its validators, audit and re-authentication.
        return HttpResponseRedirect(reverse("account_change_password"))


def check_every_admin_choice_is_scoped(app_configs: Any = None, **kwargs: Any) -> list:
    """System check: every model the admin lists, and every model it offers as a choice (a related
    field of a listed model or of an inline), says which scheme its rows belong to. A model that does
    not would otherwise be offered whole, to every scheme."""
    from django.contrib.admin import site
    from django.core import checks

    from portal.permissions import UndeclaredScope, scheme_path

    models = set()
    for model, model_admin in site._registry.items():
        for each in (model, *(inline.model for inline in model_admin.inlines)):
            models.add(each)
            forward = [*each._meta.fields, *each._meta.many_to_many]
            models.update(field.related_model for field in forward if field.is_relation)
    errors = []
    for model in sorted(models, key=lambda m: m._meta.label):
        try:
            scheme_path(model)
        except UndeclaredScope as exc:
            errors.append(checks.Error(str(exc), obj=model, id="portal.E001"))
    return errors
