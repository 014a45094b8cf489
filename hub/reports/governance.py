"""The partnership's information governance documents, generated: the UK GDPR Article 30 record
of processing activities (`hub governance ropa`, one record per controller) and the data
protection impact assessment's description (`hub governance dpia`: data flows, lawful bases and
conditions, the risks the hub mitigates and how), as Markdown or accessible HTML.

Both are built from what governs the hub, never typed by hand: the information sharing
agreement in force at a date (its parties, rules, lawful bases and Article 9 / Article 10
conditions, redactions, lead DPOs), the event taxonomy (kinds, their descriptions, and which
are special category or criminal offence data), the retention rule and the deployment's
settings (`DeploymentFacts`, which the CLI reads from `HubSettings`), with the controllers and
their data protection officers from the agency register and the practitioner directory. Change
the agreement and the documents change.

This module holds what both documents are made of (the document model, reading the
agreement, taxonomy and settings into plain English, and rendering Markdown and HTML);
`hub.reports.governance_documents` assembles the two documents from it.

They hold no child's data at all (only the agreement, the taxonomy, settings and staff names
and roles), so they are not disclosures and do not go through the disclosure gate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import jinja2

from hub.domain.access import Practitioner, Role
from hub.domain.data_protection import (
    CRIMINAL_OFFENCE_CONDITIONS,
    SPECIAL_CATEGORY_CONDITIONS,
    ConditionKind,
    ProcessingCondition,
    lawful_basis_text,
)
from hub.domain.taxonomy import (
    CATEGORY_CLASSIFICATION,
    KINDS,
    SPECIAL_CATEGORY_LABELS,
    AgencyType,
    DataClassification,
)
from hub.policies.agreements import Agreement, SharingRule
from hub.reports.rendering import readable_label, template_environment, when_text

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DocumentFormat = Literal["markdown", "html"]

AGENCY_TYPE_NAMES: dict[str, str] = {
    AgencyType.LOCAL_AUTHORITY: "local authority children's social care",
    AgencyType.POLICE: "police",
    AgencyType.HEALTH: "health (NHS)",
    AgencyType.EDUCATION: "schools and education settings",
}
ACTION_NAMES: dict[str, str] = {
    "view": "view",
    "export": "export",
    "search": "search",
    "notify": "be told a record arrived (its kind and publisher)",
    "receive-notice": "receive a notice",
}


@dataclass(frozen=True)
class DeploymentFacts:
    """What the deployment's settings say that a DPIA must (the CLI reads `HubSettings`)."""

    store: str  # "sqlite" | "postgres"
    store_location: str
    kek_from_secret_store: bool  # HUB_KEK given (a secret store) rather than key files
    keys_dir_explicit: bool  # HUB_KEYS_DIR set: no key is ever created on the fly
    kafka_security_protocol: str
    oidc_issuer: str | None
    dev_tokens: bool
    cookie_secure: bool
    break_glass_minutes: int
    review_commission_max_days: int
    max_message_bytes: int
    retention_years: int


@dataclass(frozen=True)
class Controller:
    """An organisation that is a controller: a party to the agreement, a registered
    publishing agency, or the employer of practitioners in the directory."""

    id: str
    name: str
    agency_type: str
    party: bool
    registered: bool
    staff: tuple[Practitioner, ...] = ()


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


@dataclass
class GovernanceDocument:
    title: str
    lede: list[str]
    sections: list[Section]


# Reading the agreement ---------------------------------------------------------------------


def kinds_text(rule: SharingRule) -> str:
    parts = []
    for pattern in rule.kinds:
        if pattern == "*":
            parts.append("every kind of record the publishers hold")
        elif pattern.endswith("*"):
            prefix = pattern[:-1].rstrip(".")
            family = {
                "la": "local authority children's social care records",
                "police": "police records",
                "health": "health records",
                "education": "school and education records",
                "record": "retractions of earlier records",
                "identity": "identity links and unlinks",
            }.get(prefix)
            matching = [KINDS[k].description for k in KINDS if k.startswith(pattern[:-1])]
            parts.append(
                f"all {family}" if family else "; ".join(matching) or f"kinds named {pattern}"
            )
        elif pattern in KINDS:
            parts.append(KINDS[pattern].description)
        else:
            parts.append(f"{pattern} (not a kind in the taxonomy)")
    return "; ".join(parts)


def agreement_name(agreement: Agreement) -> str:
    return f"the {readable_label(agreement.agreement)} agreement, version {agreement.version}"


def types_text(types: Iterable[str]) -> str:
    return ", ".join(AGENCY_TYPE_NAMES.get(t, readable_label(t)) for t in types)


def roles_text(roles: Iterable[str]) -> str:
    return ", ".join(readable_label(r).lower() for r in roles)


def purposes_text(purposes: Iterable[str]) -> str:
    return ", ".join(readable_label(p).lower() for p in purposes)


def condition_text(kind: ConditionKind, condition: ProcessingCondition | None) -> str:
    if condition is None:
        return "none named"
    table = (
        SPECIAL_CATEGORY_CONDITIONS
        if kind is ConditionKind.SPECIAL_CATEGORY
        else CRIMINAL_OFFENCE_CONDITIONS
    )
    return table[condition].text


def classification_text(classification: DataClassification) -> str:
    parts = [SPECIAL_CATEGORY_LABELS[c] for c in sorted(classification.special_categories)]
    if classification.criminal_offence:
        parts.append("criminal offence data")
    return "; ".join(parts) if parts else "ordinary personal data"


def redactions_text(rule: SharingRule) -> str:
    if not rule.redact:
        return "nothing removed"
    return ", ".join(
        "the summary" if r == "summary" else readable_label(r.removeprefix("details.")).lower()
        for r in rule.redact
    )


def employers(role_ids: Iterable[str], everyone: Sequence[Controller]) -> str:
    roles = set(role_ids)
    names = [c.name for c in everyone if any(p.role.value in roles for p in c.staff)]
    return ", ".join(names) if names else "no organisation in the directory has these roles yet"


def rules_table(agreement: Agreement) -> Table:
    return Table(
        f"The sharing rules of {agreement_name(agreement)}",
        [
            "Rule",
            "Who",
            "For",
            "From",
            "What",
            "Up to",
            "Lawful basis",
            "Special category condition",
            "Criminal offence condition",
            "Removed before sharing",
        ],
        [
            [
                rule.description,
                roles_text(rule.roles),
                purposes_text(rule.purposes),
                types_text(rule.agency_types),
                kinds_text(rule),
                f"{rule.max_sensitivity} sensitivity; may "
                + ", ".join(ACTION_NAMES[a] for a in rule.actions),
                lawful_basis_text(rule.lawful_basis),
                condition_text(ConditionKind.SPECIAL_CATEGORY, rule.special_category_condition),
                condition_text(ConditionKind.CRIMINAL_OFFENCE, rule.criminal_offence_condition),
                redactions_text(rule),
            ]
            for rule in agreement.rules
        ],
    )


def classified_table() -> Table:
    rows = [
        [spec.description, types_text(sorted(spec.publishers)), classification_text(c)]
        for spec in KINDS.values()
        if (c := spec.classification).special_category or c.criminal_offence
    ]
    rows += [
        [
            f"Any record about {readable_label(category).lower()}",
            "any agency",
            classification_text(c),
        ]
        for category, c in CATEGORY_CLASSIFICATION.items()
        if c.special_category or c.criminal_offence
    ]
    return Table(
        "Special category and criminal offence data (from the event taxonomy)",
        ["Content", "Published by", "What it is"],
        rows,
    )


def security_measures(facts: DeploymentFacts) -> list[str]:
    kek = (
        "from the deployment's secret store (HUB_KEK)"
        if facts.kek_from_secret_store
        else "in key files"
        + (
            " in a dedicated keys directory (HUB_KEYS_DIR; missing keys are an error)"
            if facts.keys_dir_explicit
            else " under the data directory (created on first use: development only)"
        )
    )
    store = (
        f"PostgreSQL ({facts.store_location})"
        if facts.store == "postgres"
        else f"an embedded SQLite file ({facts.store_location}; a single machine)"
    )
    kafka = (
        "Kafka connections use TLS"
        if facts.kafka_security_protocol.endswith("SSL")
        else "Kafka connections are NOT encrypted (HUB_KAFKA_SECURITY_PROTOCOL="
        f"{facts.kafka_security_protocol})"
    )
    authentication = (
        f"practitioners sign in through the partnership's identity provider ({facts.oidc_issuer})"
        if facts.oidc_issuer
        else "no identity provider is configured (HUB_OIDC_ISSUER)"
    )
    if facts.dev_tokens:
        authentication += "; locally signed development tokens are ALSO accepted (HUB_DEV_TOKENS)"
    return [
        "Encryption at rest: every child's record is sealed with that child's own data key, "
        f"wrapped by a key-encryption key held {kek}; erasing a child destroys their key "
        "(crypto-shredding), so every copy, backup included, becomes unreadable.",
        f"Store: {store}. NHS numbers are never stored in clear: child streams are named by "
        "keyed pseudonyms (HMAC), so a copy of the database alone does not say which child is "
        "which.",
        "Access control: a sharing rule of the agreement must permit the role, purpose, "
        "publisher type, kind and sensitivity, a legitimate relationship to the child (or "
        f"break-glass, limited to {facts.break_glass_minutes} minutes and reviewed by a data "
        "protection officer) is required, and anything no rule permits is refused.",
        "Accountability: every disclosure is audited before it happens (who, for which "
        "organisation, role, purpose, lawful basis, conditions, agreement version, what was "
        "disclosed, redacted and withheld); data protection officers query the audit.",
        "Integrity: the event log and the audit ledger are chained in signed Merkle "
        "checkpoints that partners can check (`hub verify`).",
        f"Transport: {kafka}; the HTTPS API refuses unauthenticated requests; messages over "
        f"{facts.max_message_bytes:,} bytes are quarantined.",
        f"Authentication: {authentication}; session cookies are "
        + ("sent over HTTPS only." if facts.cookie_secure else "NOT restricted to HTTPS."),
        f"Practice review commissions last at most {facts.review_commission_max_days} days.",
    ]


def retention_text(facts: DeploymentFacts) -> str:
    return (
        f"A child's record is erased (crypto-shredded) {facts.retention_years} years after the "
        "last event about them (`hub keys retention`, applied by a data protection officer and "
        "audited); a data protection officer can erase one sooner (`hub keys shred`). The audit "
        "ledger keeps who was shown which record, naming children only by pseudonym and holding "
        "none of their records' content, for accountability."
    )


def data_protection_officers(controller: Controller, agreement: Agreement) -> str:
    names = [
        f"{p.name}"
        + (" (partnership lead)" if p.id in agreement.lead_data_protection_officers else "")
        for p in controller.staff
        if p.role is Role.DATA_PROTECTION_OFFICER
    ]
    return ", ".join(names) if names else "none in the practitioner directory"


def document_header(agreement: Agreement, as_of: datetime, generated_at: datetime) -> list[str]:
    return [
        f"Generated on {when_text(generated_at)} from {agreement_name(agreement)} (the "
        f"information sharing agreement in force on {when_text(as_of)}, "
        f"effective from {when_text(agreement.effective_from)}), the hub's event taxonomy and "
        "the deployment's settings. It holds no child's information.",
    ]


# Rendering ----------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _markdown_section(section: Section, level: int, lines: list[str]) -> None:
    lines += [f"{'#' * level} {section.title}", ""]
    for paragraph in section.paragraphs:
        lines += [paragraph, ""]
    if section.bullets:
        lines += [f"- {bullet}" for bullet in section.bullets] + [""]
    for table in section.tables:
        lines += [f"**{table.caption}**", ""]
        lines.append("| " + " | ".join(_md_cell(h) for h in table.headers) + " |")
        lines.append("|" + "---|" * len(table.headers))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
        lines.append("")
    for subsection in section.sections:
        _markdown_section(subsection, level + 1, lines)


def render_markdown(document: GovernanceDocument) -> str:
    lines = [f"# {document.title}", ""]
    for paragraph in document.lede:
        lines += [paragraph, ""]
    for section in document.sections:
        _markdown_section(section, 2, lines)
    return "\n".join(lines).rstrip() + "\n"


@functools.cache  # compiled once per process, not per document
def _environment() -> jinja2.Environment:
    return template_environment(TEMPLATES_DIR)


def render_html(document: GovernanceDocument) -> str:
    template = _environment().get_template("governance.html.j2")
    return template.render(document=document)


def render(document: GovernanceDocument, form: DocumentFormat) -> str:
    return render_html(document) if form == "html" else render_markdown(document)
