from django.db import migrations


def create_default_group(apps, schema_editor):
    ResourceGroup = apps.get_model("agents_app", "ResourceGroup")
    ResourceGroup.objects.get_or_create(
        name="default",
        defaults={"description": "Created by the agents app for agents that name no group."},
    )


class Migration(migrations.Migration):
    dependencies = [("agents_app", "0001_initial")]

    operations = [migrations.RunPython(create_default_group, migrations.RunPython.noop)]
