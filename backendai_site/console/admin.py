"""Third-party models' admin pages re-registered on the console theme's base classes, so every
page of the console renders alike. Behaviour stays the libraries' own."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from unfold.admin import ModelAdmin

THEMED = [
    (Group, BaseGroupAdmin),
    (PeriodicTask, beat_admin.PeriodicTaskAdmin),
    (ClockedSchedule, beat_admin.ClockedScheduleAdmin),
    (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (SolarSchedule, beat_admin.SolarScheduleAdmin),
    (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    (AccessAttempt, AccessAttemptAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
    (AccessLog, AccessLogAdmin),
]

for model, original in THEMED:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    themed = type(original.__name__, (original, ModelAdmin), {"__module__": __name__})
    admin.site.register(model, themed)

# The front page is the console's dashboard (templates/console/dashboard.html, filled by
# UNFOLD["DASHBOARD_CALLBACK"]); a template name of our own, so no app's admin/index.html
# shadows it whatever the order of INSTALLED_APPS.
admin.site.index_template = "console/dashboard.html"
