"""Name validation rules of the Kubernetes API (DNS-1123 subdomain and label)."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PATH_SEGMENT_FORBIDDEN = ("/", "%")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                 "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def dns1123_subdomain_errors(name: str) -> list[str]:
    errors = []
    if len(name) > 253:
        errors.append("must be no more than 253 characters")
    if not _SUBDOMAIN.match(name):
        errors.append(SUBDOMAIN_MSG)
    return errors


_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def dns1035_label_errors(name: str) -> list[str]:
    errors = []
    if len(name) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1035.match(name):
        errors.append(DNS1035_MSG)
    return errors


def dns1123_label_errors(name: str) -> list[str]:
    errors = []
    if len(name) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL.match(name):
        errors.append(LABEL_MSG)
    return errors


def path_segment_errors(name: str) -> list[str]:
    """Names of kinds that only need to be usable in a URL path (RBAC roles, for example)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in _PATH_SEGMENT_FORBIDDEN if c in name]


# Kinds whose names are DNS-1123 labels upstream; most others are subdomains; a few only path segments.
LABEL_NAMED = {("", "Namespace")}
DNS1035_NAMED = {("", "Service")}
PATH_SEGMENT_NAMED = {
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
}


def name_errors(group: str, kind: str, name: str) -> list[str]:
    if (group, kind) in LABEL_NAMED:
        return dns1123_label_errors(name)
    if (group, kind) in DNS1035_NAMED:
        return dns1035_label_errors(name)
    if (group, kind) in PATH_SEGMENT_NAMED:
        return path_segment_errors(name)
    return dns1123_subdomain_errors(name)
