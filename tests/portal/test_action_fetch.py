"""fetch:plain, fetch:plain:file, fetch:template and fetch:template:file, reading real sources: a template
repository in the embedded git store (read in place through SourceFetcher) and `file:` directories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from idpbuilder.gitserver import RepoStore
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.portal.scaffolder.actions.base import ActionError, Services
from idpbuilder.portal.scaffolder.actions.fetch import (
    FetchPlainAction,
    FetchPlainFileAction,
    FetchTemplateAction,
    FetchTemplateFileAction,
)
from idpbuilder.portal.scaffolder.actions.workspace import OUTSIDE_MESSAGE
from idpbuilder.portal.urlreader import UrlReader

from .action_helpers import step, tree

GIT_BASE = "https://idp.test/git"
TEMPLATE_YAML = f"{GIT_BASE}/team/templates/blob/main/service/template.yaml"
PNG = b"\x89PNG\r\n\x1a\n\0\0${{ values.name }}\xff\xfe"

SKELETON = {
    "service/template.yaml": "kind: Template\n",
    "service/skeleton/README.md": "# ${{ values.name }}\n\nOwned by ${{ values.owner }}.\n",
    "service/skeleton/${{ values.name }}/__init__.py": "NAME = '${{ values.name }}'\n",
    "service/skeleton/{% if values.docs %}docs{% endif %}/index.md": "docs for ${{ values.name }}\n",
    "service/skeleton/.github/workflows/ci.yaml": "run: echo ${{ github.sha }}\n",
    "service/skeleton/${{ values.name }}.cfg.njk": "name=${{ values.name }}\n",
    "service/skeleton/raw-${{ values.name }}.txt": "raw ${{ values.name }}\n",
    "service/skeleton/cc.txt": "{{ cookiecutter.name }}\n",
    "service/plain/a.txt": "${{ not rendered }}\n",
    "service/plain/sub/b.txt": "b\n",
}


def git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.fixture
def sources(tmp_path: Path) -> Services:
    """The template repository `team/templates` pushed with real git (an executable script and a binary
    file included) into the store, and the same files under a `file:` root."""
    files: dict[str, str | bytes] = {**SKELETON, "service/skeleton/run.sh": "#!/bin/sh\necho ${{ values.name }}\n",
                                     "service/skeleton/logo.png": PNG}
    work = tmp_path / "work"
    write_files(work, files)
    (work / "service/skeleton/run.sh").chmod(0o755)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "templates")
    repos = RepoStore(tmp_path / "git")
    repos.create("team", "templates")
    git(work, "push", "-q", str(repos.path("team", "templates")), "main")
    fetcher = SourceFetcher(tmp_path / "cache", repos=repos, local_urls=[GIT_BASE])
    reader = UrlReader(fetcher, file_roots=[work])
    return Services(reader=reader, repos=repos, git_base_url=GIT_BASE)


def run_template(ws: Path, services: Services, **inp):
    inp.setdefault("url", "./skeleton")
    return step(ws, inp, services=services, template_info={"baseUrl": TEMPLATE_YAML})


VALUES = {"name": "billing", "owner": "team-a", "docs": False}


async def test_fetch_template_renders_contents_and_paths_from_a_git_repository(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    s = run_template(ws, sources, values=VALUES, copyWithoutTemplating=[".github/workflows/*"])
    await FetchTemplateAction().handler(s.ctx)
    files = {p: (ws / p).read_bytes() for p in tree_paths(ws)}
    assert files["README.md"] == b"# billing\n\nOwned by team-a.\n"
    assert files["billing/__init__.py"] == b"NAME = 'billing'\n"
    assert files["raw-billing.txt"] == b"raw billing\n"
    # copyWithoutTemplating: the content is copied as is (GitHub expressions survive), the path is rendered.
    assert files[".github/workflows/ci.yaml"] == b"run: echo ${{ github.sha }}\n"
    # The docs directory renders to an empty name: skipped, as Backstage skips it.
    assert not any(p.endswith("index.md") for p in files)
    # Binary files are copied byte for byte; executable bits are kept.
    assert files["logo.png"] == PNG
    assert files["run.sh"] == b"#!/bin/sh\necho billing\n"
    assert os.stat(ws / "run.sh").st_mode & 0o111
    assert not os.stat(ws / "README.md").st_mode & 0o111
    # Without templateFileExtension, `.njk` is just part of the name.
    assert files["billing.cfg.njk"] == b"name=billing\n"
    assert "Fetching template content from remote URL" in s.logs


def tree_paths(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def test_fetch_template_reads_file_locations_too(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    base = f"file://{tmp_path / 'work' / 'service' / 'template.yaml'}"
    s = step(ws, {"url": "./skeleton", "values": {**VALUES, "docs": True}, "targetPath": "out",
                  "copyWithoutTemplating": [".github/**"]}, services=sources, template_info={"baseUrl": base})
    await FetchTemplateAction().handler(s.ctx)
    assert (ws / "out/docs/index.md").read_text() == "docs for billing\n"
    assert (ws / "out/billing/__init__.py").read_text() == "NAME = 'billing'\n"
    assert os.stat(ws / "out/run.sh").st_mode & 0o111


async def test_copy_without_render_keeps_paths_too_and_cannot_be_combined(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    s = run_template(ws, sources, values=VALUES, copyWithoutRender=["raw-*", ".github/**", "cc.txt"])
    await FetchTemplateAction().handler(s.ctx)
    assert (ws / "raw-${{ values.name }}.txt").read_text() == "raw ${{ values.name }}\n"
    assert (ws / "cc.txt").read_text() == "{{ cookiecutter.name }}\n"
    with pytest.raises(ActionError, match="copyWithoutRender and copyWithoutTemplating can not be used"):
        await FetchTemplateAction().handler(run_template(ws, sources, copyWithoutRender=["a"],
                                                         copyWithoutTemplating=["b"]).ctx)
    with pytest.raises(ActionError, match="must be an Array"):
        await FetchTemplateAction().handler(run_template(ws, sources, copyWithoutTemplating="a").ctx)


async def test_template_file_extension_renders_only_those_files_and_strips_the_extension(
        tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    s = run_template(ws, sources, values=VALUES, templateFileExtension=True)
    await FetchTemplateAction().handler(s.ctx)
    assert (ws / "billing.cfg").read_text() == "name=billing\n"
    assert not (ws / "billing.cfg.njk").exists()
    assert (ws / "README.md").read_text() == "# ${{ values.name }}\n\nOwned by ${{ values.owner }}.\n"
    assert (ws / ".github/workflows/ci.yaml").read_text() == "run: echo ${{ github.sha }}\n"
    assert (ws / "billing/__init__.py").exists()  # paths are always rendered
    with pytest.raises(ActionError, match="extension incompatible with"):
        await FetchTemplateAction().handler(run_template(ws, sources, templateFileExtension=".j2",
                                                         cookiecutterCompat=True).ctx)


async def test_cookiecutter_compat_uses_the_cookiecutter_name_and_plain_braces(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    base = f"file://{tmp_path / 'work' / 'service' / 'template.yaml'}"
    s = step(ws, {"url": "./skeleton/cc.txt", "targetPath": "cc.txt", "values": {"name": "Ada"},
                  "cookiecutterCompat": True}, services=sources, template_info={"baseUrl": base})
    await FetchTemplateFileAction().handler(s.ctx)
    assert (ws / "cc.txt").read_text() == "Ada\n"


async def test_existing_files_are_kept_unless_replace(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "README.md").write_text("mine\n")
    await FetchTemplateAction().handler(run_template(ws, sources, values=VALUES,
                                                     copyWithoutTemplating=[".github/**"]).ctx)
    assert (ws / "README.md").read_text() == "mine\n"
    await FetchTemplateAction().handler(run_template(ws, sources, values=VALUES, replace=True,
                                                     copyWithoutTemplating=[".github/**"]).ctx)
    assert (ws / "README.md").read_text().startswith("# billing")


async def test_trim_and_lstrip_blocks(tmp_path: Path, sources: Services):
    work = tmp_path / "work"
    (work / "service/blocks.txt").write_text("a\n    {% if true %}\nb\n    {% endif %}\nc\n")
    base = f"file://{work / 'service' / 'template.yaml'}"
    ws = tmp_path / "ws"
    plain = step(ws, {"url": "./blocks.txt", "targetPath": "plain.txt"}, services=sources,
                 template_info={"baseUrl": base})
    await FetchTemplateFileAction().handler(plain.ctx)
    trimmed = step(ws, {"url": "./blocks.txt", "targetPath": "trimmed.txt", "trimBlocks": True,
                        "lstripBlocks": True}, services=sources, template_info={"baseUrl": base})
    await FetchTemplateFileAction().handler(trimmed.ctx)
    assert (ws / "plain.txt").read_text() == "a\n    \nb\n    \nc\n"
    assert (ws / "trimmed.txt").read_text() == "a\nb\nc\n"


async def test_fetch_template_refuses_paths_that_leave_the_workspace(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        await FetchTemplateAction().handler(run_template(ws, sources, values=VALUES, targetPath="../out").ctx)
    # A value that renders a path upwards is caught per file.
    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        await FetchTemplateAction().handler(run_template(ws, sources, values={**VALUES, "name": "../../evil"},
                                                         copyWithoutTemplating=[".github/**"]).ctx)
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        s = step(ws, {"url": "./skeleton/README.md", "targetPath": "/tmp/x"}, services=sources,
                 template_info={"baseUrl": TEMPLATE_YAML})
        await FetchTemplateFileAction().handler(s.ctx)


async def test_template_errors_name_the_file(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    with pytest.raises(ActionError, match=r"Failed to render the template: .*\.github/workflows/ci\.yaml.*github"):
        await FetchTemplateAction().handler(run_template(ws, sources, values=VALUES).ctx)


async def test_only_the_platform_and_configured_hosts_can_be_read(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    for url in ("https://evil.example/org/repo/tree/main/skeleton", "http://169.254.169.254/latest/meta-data",
                "ftp://idp.test/git/team/templates"):
        with pytest.raises(ActionError, match="is not allowed"):
            await FetchPlainAction().handler(step(ws, {"url": url}, services=sources).ctx)
    with pytest.raises(ActionError, match="the fetch URL is relative, ./skeleton"):
        await FetchPlainAction().handler(step(ws, {"url": "./skeleton"}, services=sources).ctx)
    with pytest.raises(ActionError, match="Fetch URL may not be absolute for file locations"):
        await FetchPlainAction().handler(step(ws, {"url": "/etc"}, services=sources,
                                              template_info={"baseUrl": "file:///srv/t/template.yaml"}).ctx)
    # file: locations outside the reader's roots are refused by the reader.
    with pytest.raises(ActionError, match="not allowed"):
        await FetchPlainAction().handler(step(ws, {"url": "file:///etc"}, services=sources).ctx)
    # A configured integration host is allowed (and then fails to read: nothing listens there).
    sources.integrations = {"git.example.com": {"type": "gitea"}}
    with pytest.raises(ActionError) as excinfo:
        await FetchPlainFileAction().handler(step(ws, {"url": "https://git.example.com/o/r/blob/main/x.txt",
                                                       "targetPath": "x.txt"}, services=sources).ctx)
    assert "is not allowed" not in str(excinfo.value)


async def test_fetch_plain_copies_a_tree_without_rendering(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    s = step(ws, {"url": "./plain", "targetPath": "vendor"}, services=sources,
             template_info={"baseUrl": TEMPLATE_YAML})
    await FetchPlainAction().handler(s.ctx)
    assert tree(ws) == {"vendor/a.txt": "${{ not rendered }}\n", "vendor/sub/b.txt": "b\n"}
    # An absolute URL into the platform's git server works without a base.
    s = step(ws, {"url": f"{GIT_BASE}/team/templates/tree/main/service/plain/sub"}, services=sources)
    await FetchPlainAction().handler(s.ctx)
    assert (ws / "b.txt").read_text() == "b\n"


async def test_fetch_plain_file_writes_one_file(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    s = step(ws, {"url": "./plain/sub/b.txt", "targetPath": "deep/dir/copy.txt"}, services=sources,
             template_info={"baseUrl": TEMPLATE_YAML})
    await FetchPlainFileAction().handler(s.ctx)
    assert tree(ws) == {"deep/dir/copy.txt": "b\n"}
    with pytest.raises(ActionError, match="does not exist"):
        await FetchPlainFileAction().handler(step(ws, {"url": "./plain/nope.txt", "targetPath": "n.txt"},
                                                  services=sources, template_info={"baseUrl": TEMPLATE_YAML}).ctx)


async def test_fetch_template_file_renders_and_respects_replace(tmp_path: Path, sources: Services):
    ws = tmp_path / "ws"
    inp = {"url": "./skeleton/README.md", "targetPath": "docs/README.md", "values": VALUES}
    await FetchTemplateFileAction().handler(step(ws, inp, services=sources,
                                                 template_info={"baseUrl": TEMPLATE_YAML}).ctx)
    assert (ws / "docs/README.md").read_text() == "# billing\n\nOwned by team-a.\n"
    s = step(ws, {**inp, "values": {**VALUES, "name": "other"}}, services=sources,
             template_info={"baseUrl": TEMPLATE_YAML})
    await FetchTemplateFileAction().handler(s.ctx)
    assert (ws / "docs/README.md").read_text().startswith("# billing")
    assert "File docs/README.md already exists in workspace, not replacing." in s.logs
    s = step(ws, {**inp, "values": {**VALUES, "name": "other"}, "replace": True}, services=sources,
             template_info={"baseUrl": TEMPLATE_YAML})
    await FetchTemplateFileAction().handler(s.ctx)
    assert (ws / "docs/README.md").read_text().startswith("# other")


async def test_values_are_not_written_to_the_log(tmp_path: Path, sources: Services):
    """Backstage logs the input values of fetch:template (a known leak); these actions never log them."""
    ws = tmp_path / "ws"
    secret = "hunter2-do-not-log"
    s = run_template(ws, sources, values={**VALUES, "owner": secret}, copyWithoutTemplating=[".github/**"])
    await FetchTemplateAction().handler(s.ctx)
    assert secret in (ws / "README.md").read_text()
    s2 = step(ws, {"url": "./skeleton/README.md", "targetPath": "again.md", "values": {**VALUES, "owner": secret}},
              services=sources, template_info={"baseUrl": TEMPLATE_YAML})
    await FetchTemplateFileAction().handler(s2.ctx)
    assert s.logs and s2.logs
    assert secret not in s.log_text + s2.log_text
