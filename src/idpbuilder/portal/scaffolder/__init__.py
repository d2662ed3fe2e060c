"""Backstage's scaffolder: software templates, `${{ }}` templating, actions, tasks."""
