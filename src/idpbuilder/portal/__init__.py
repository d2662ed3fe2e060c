"""The developer portal: Backstage's catalog, scaffolder and TechDocs semantics, natively."""
