"""Generate src/idpbuilder/apiserver/protobuf_schema.py from kubernetes/api + apimachinery sources.

Reads field numbers/types from generated.proto and JSON names, omitempty, pointer-ness and field
order from the Go struct tags in the same packages.
"""
import re, subprocess, sys

REF = "v0.32.13"
API = "/work/.mirror/kubernetes+api/repo"
MACH = "/work/.mirror/kubernetes+apimachinery/repo"

PKGS = {  # proto package -> (repo, dir, short prefix)
    "k8s.io.apimachinery.pkg.apis.meta.v1": (MACH, "pkg/apis/meta/v1", "meta.v1"),
    "k8s.io.apimachinery.pkg.runtime": (MACH, "pkg/runtime", "runtime"),
    "k8s.io.apimachinery.pkg.runtime.schema": (MACH, "pkg/runtime/schema", "schema"),
    "k8s.io.apimachinery.pkg.util.intstr": (MACH, "pkg/util/intstr", "intstr"),
    "k8s.io.apimachinery.pkg.api.resource": (MACH, "pkg/api/resource", "resource"),
}
for gv in ["core/v1", "apps/v1", "batch/v1", "networking/v1", "policy/v1", "scheduling/v1", "rbac/v1",
           "authentication/v1", "authorization/v1", "certificates/v1", "autoscaling/v1", "autoscaling/v2"]:
    g, v = gv.split("/")
    PKGS[f"k8s.io.api.{g}.{v}"] = (API, gv, f"{g}.{v}")

ROOTS = {
    ("v1", "Namespace"): "core.v1.Namespace",
    ("v1", "ConfigMap"): "core.v1.ConfigMap",
    ("v1", "Secret"): "core.v1.Secret",
    ("v1", "ServiceAccount"): "core.v1.ServiceAccount",
    ("v1", "Service"): "core.v1.Service",
    ("v1", "ResourceQuota"): "core.v1.ResourceQuota",
    ("v1", "Pod"): "core.v1.Pod",
    ("apps/v1", "Deployment"): "apps.v1.Deployment",
    ("batch/v1", "Job"): "batch.v1.Job",
    ("batch/v1", "CronJob"): "batch.v1.CronJob",
    ("networking.k8s.io/v1", "Ingress"): "networking.v1.Ingress",
    ("policy/v1", "PodDisruptionBudget"): "policy.v1.PodDisruptionBudget",
    ("policy/v1", "Eviction"): "policy.v1.Eviction",
    ("scheduling.k8s.io/v1", "PriorityClass"): "scheduling.v1.PriorityClass",
    ("rbac.authorization.k8s.io/v1", "Role"): "rbac.v1.Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "rbac.v1.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rbac.v1.RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "rbac.v1.ClusterRoleBinding",
    ("authentication.k8s.io/v1", "TokenRequest"): "authentication.v1.TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "authentication.v1.TokenReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "authentication.v1.SelfSubjectReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "authorization.v1.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "authorization.v1.SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "authorization.v1.SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "authorization.v1.LocalSubjectAccessReview",
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "certificates.v1.CertificateSigningRequest",
}
# decoded by hand in protobuf.py, not from a table
SPECIAL = {"meta.v1.Time", "meta.v1.MicroTime", "meta.v1.Duration", "intstr.IntOrString",
           "resource.Quantity", "runtime.RawExtension", "meta.v1.FieldsV1"}
SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float",
           "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}


def q(x):
    return '"' + x + '"'


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def rev(repo):
    return git(repo, "rev-parse", REF + "^{commit}").strip()


def short(full):
    full = full.lstrip(".")
    pkg, _, name = full.rpartition(".")
    if pkg not in PKGS:
        g, v = pkg.removeprefix("k8s.io.api.").split(".")
        PKGS[pkg] = (API, f"{g}/{v}", f"{g}.{v}")
    return f"{PKGS[pkg][2]}.{name}"


def parse_proto(pkg):
    repo, d, prefix = PKGS[pkg]
    text = git(repo, "show", f"{REF}:{d}/generated.proto")
    text = re.sub(r"//[^\n]*", "", text)
    msgs = {}
    for m in re.finditer(r"message\s+(\w+)\s*\{([^}]*)\}", text):
        fields = []
        for f in re.finditer(r"(optional|repeated)?\s*(map<\s*(\S+)\s*,\s*(\S+)\s*>|\S+)\s+(\w+)\s*=\s*(\d+)\s*;",
                             m.group(2)):
            label, typ, mk, mv, name, num = f.groups()
            def res(t):
                if t in SCALARS:
                    return t
                return short(t) if t.startswith(".") else f"{prefix}.{t}"
            if mk:
                assert mk == "string", (m.group(1), name)
                t = f"map[string]{res(mv)}"
            else:
                t = ("[]" if label == "repeated" else "") + res(typ)
            fields.append((int(num), name, t))
        msgs[f"{prefix}.{m.group(1)}"] = fields
    return msgs


def parse_go(pkg):
    repo, d, prefix = PKGS[pkg]
    files = [f for f in git(repo, "ls-tree", "--name-only", REF, d + "/").split()
             if f.endswith(".go") and not f.endswith("_test.go") and "generated" not in f]
    structs, aliases = {}, {}
    for f in files:
        src = git(repo, "show", f"{REF}:{f}")
        for m in re.finditer(r"^type (\w+) \[\](\w+)\s*$", src, re.M):
            aliases[f"{prefix}.{m.group(1)}"] = m.group(2)
        for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", src, re.M | re.S):
            fields = []
            for line in m.group(2).splitlines():
                fm = re.match(r"^\s*(?:(\w+)\s+)?(\S+)\s+`([^`]*)`", line)
                if not fm:
                    continue
                gname, gtype, tag = fm.groups()
                pt = re.search(r'protobuf:"([^"]*)"', tag)
                if not pt or pt.group(1) == "-":
                    continue
                num = int(pt.group(1).split(",")[1])
                jt = re.search(r'json:"([^"]*)"', tag)
                jparts = jt.group(1).split(",") if jt else [""]
                fields.append({"num": num, "json": jparts[0], "omitempty": "omitempty" in jparts[1:],
                               "pointer": gtype.startswith("*"), "embedded": gname is None,
                               "gotype": gtype})
            structs[f"{prefix}.{m.group(1)}"] = fields
    return structs, aliases


protos, gos, aliases = {}, {}, {}
done = set()
while set(PKGS) - done:
    pkg = sorted(set(PKGS) - done)[0]
    done.add(pkg)
    protos.update(parse_proto(pkg))
    s, a = parse_go(pkg)
    gos.update(s)
    aliases.update(a)

# closure
need, todo = set(), list(ROOTS.values())
while todo:
    n = todo.pop()
    if n in need or n in SPECIAL:
        continue
    need.add(n)
    for _, _, t in protos[n]:
        base = t.removeprefix("[]").removeprefix("map[string]")
        if base not in SCALARS:
            todo.append(base)

out = []
w = out.append
w('"""Protobuf message tables for the Kubernetes kinds that kubectl sends as protobuf.\n')
w("Generated from the generated.proto field numbers and the Go struct JSON tags of")
w(f"k8s.io/api and k8s.io/apimachinery {REF} (Kubernetes 1.32); facts only.")
w("Each message maps to its fields in Go struct (JSON output) order:")
w("``(number, json name, type, flags)``. A type is a scalar (``string``, ``int32``, ``bytes``...),")
w("another message name, ``[]T`` (repeated) or ``map[string]T``. Flags: ``OMIT_ZERO`` - a non-pointer")
w("``omitempty`` scalar that JSON drops when it is the zero value; ``INLINE`` - an embedded struct whose")
w('fields JSON flattens into the parent. ``LIST_MESSAGES`` are Go slice types carried as ``{items=1}``.\n"""')
w("")
w("from __future__ import annotations")
w("")
w("from typing import Final")
w("")
w("OMIT_ZERO: Final = 1")
w("INLINE: Final = 2")
w("")
w("Field = tuple[int, str, str, int]")
w("")
w("ROOT_KINDS: Final[dict[tuple[str, str], str]] = {")
for (av, k), msg in sorted(ROOTS.items()):
    w(f"    ({q(av)}, {q(k)}): {q(msg)},")
w("}")
w("")
list_msgs = {}
warnings = []
w("MESSAGES: Final[dict[str, tuple[Field, ...]]] = {")
for n in sorted(need):
    pf = {num: (name, t) for num, name, t in protos[n]}
    if n in aliases:
        assert list(pf) == [1] and pf[1][1] == "[]string", n
        list_msgs[n] = pf[1][1]
        continue
    go = gos.get(n)
    if go is None:
        warnings.append(f"no Go struct for {n}")
        go = [{"num": num, "json": name, "omitempty": False, "pointer": True, "embedded": False} for num, name, _ in protos[n]]
    w(f"    {q(n)}: (")
    seen = set()
    for gf in go:
        num = gf["num"]
        if num not in pf:
            warnings.append(f"{n}: go field {num} not in proto")
            continue
        seen.add(num)
        pname, t = pf[num]
        flags = []
        json_name = gf["json"]
        if gf["embedded"] and json_name == "":
            flags.append("INLINE")
            json_name = pname
        elif json_name in ("", "-"):
            warnings.append(f"{n}.{pname}: json {json_name!r}")
            json_name = pname
        scalar = t in SCALARS
        if scalar and gf["omitempty"] and not gf["pointer"]:
            flags.append("OMIT_ZERO")
        fl = " | ".join(flags) if flags else "0"
        w(f"        ({num}, {q(json_name)}, {q(t)}, {fl}),")
    for num in pf:
        if num not in seen:
            warnings.append(f"{n}: proto field {num} {pf[num]} has no go field")
    w("    ),")
w("}")
w("")
w("# Go slice types (e.g. ``type ExtraValue []string``) encoded as a message with ``repeated items = 1``.")
w("LIST_MESSAGES: Final[dict[str, str]] = {")
for n, t in sorted(list_msgs.items()):
    w(f"    {q(n)}: {q(t)},")
w("}")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
print("\n".join(warnings), file=sys.stderr)
print(len(need), "messages", file=sys.stderr)
