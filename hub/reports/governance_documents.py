"""The two governance documents, assembled from `hub.reports.governance`: the UK GDPR
Article 30 record of processing activities (one record per controller) and the data protection
impact assessment's description (data flows, lawful bases and conditions, risks and
mitigations). Generated from the agreement in force, the taxonomy, the retention rule and the
deployment's settings; they hold no child's data, so they do not go through the disclosure
gate. A little over 400 lines, one piece: who the controllers are, the record of each, and the
DPIA's flows and risks read the same agreement and settings the same way, and are mostly the
plain-English sentences a data protection officer signs off."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from hub.domain.access import Practitioner
from hub.domain.data_protection import CONDITION_KIND_LABELS, ConditionKind, lawful_basis_text
from hub.domain.taxonomy import KINDS
from hub.policies.agreements import Agreement, SharingRule
from hub.reports.governance import (
    ACTION_NAMES,
    AGENCY_TYPE_NAMES,
    Controller,
    DeploymentFacts,
    GovernanceDocument,
    Section,
    Table,
    agreement_name,
    classification_text,
    classified_table,
    condition_text,
    data_protection_officers,
    document_header,
    employers,
    kinds_text,
    purposes_text,
    redactions_text,
    retention_text,
    roles_text,
    rules_table,
    security_measures,
    types_text,
)
from hub.reports.rendering import readable_label


def controllers(
    agreement: Agreement,
    registered: Iterable[tuple[str, str]],
    practitioners: Iterable[Practitioner],
) -> list[Controller]:
    """Every controller: the agreement's parties, registered agencies (id, type) and the
    directory's employers; named as the agreement names them, else by their id."""
    staff: dict[str, list[Practitioner]] = {}
    types: dict[str, str] = {}
    for practitioner in practitioners:
        staff.setdefault(practitioner.organisation, []).append(practitioner)
        types.setdefault(practitioner.organisation, practitioner.agency_type.value)
    registered_ids = set()
    for agency_id, agency_type in registered:
        registered_ids.add(agency_id)
        types[agency_id] = agency_type
    found = []
    for party in agreement.parties:
        types.pop(party.id, None)
        found.append(
            Controller(
                party.id,
                party.name,
                party.agency_type.value,
                True,
                party.id in registered_ids,
                tuple(staff.get(party.id, ())),
            )
        )
    for agency_id, agency_type in sorted(types.items()):
        found.append(
            Controller(
                agency_id,
                readable_label(agency_id),
                agency_type,
                False,
                agency_id in registered_ids,
                tuple(staff.get(agency_id, ())),
            )
        )
    return found


# The record of processing activities (UK GDPR Article 30) ---------------------------------


def _shared_with_table(
    controller: Controller, rules: Sequence[SharingRule], everyone: Sequence[Controller]
) -> Table:
    return Table(
        f"Recipients of what {controller.name} publishes, and on what basis",
        [
            "Sharing rule",
            "Recipients",
            "Purposes",
            "Lawful basis",
            "Special category condition",
            "Criminal offence condition",
        ],
        [
            [
                rule.description,
                f"{roles_text(rule.roles)} at {employers(map(str, rule.roles), everyone)}",
                purposes_text(rule.purposes),
                lawful_basis_text(rule.lawful_basis),
                condition_text(ConditionKind.SPECIAL_CATEGORY, rule.special_category_condition),
                condition_text(ConditionKind.CRIMINAL_OFFENCE, rule.criminal_offence_condition),
            ]
            for rule in rules
        ],
    )


def _controller_section(
    controller: Controller,
    agreement: Agreement,
    everyone: Sequence[Controller],
    facts: DeploymentFacts,
) -> Section:
    published = [r for r in agreement.rules if controller.agency_type in r.agency_types]
    received = [
        r for r in agreement.rules if any(p.role.value in r.roles for p in controller.staff)
    ]
    kinds = [spec for spec in KINDS.values() if controller.agency_type in spec.publishers]
    status = []
    if not controller.party:
        status.append(
            f"not a party to {agreement_name(agreement)}: its "
            "participation needs the partnership's attention"
        )
    if controller.registered:
        status.append("registered with the hub to publish")
    return Section(
        controller.name,
        paragraphs=[
            f"A {AGENCY_TYPE_NAMES.get(controller.agency_type, controller.agency_type)} "
            "controller" + (f" ({'; '.join(status)})" if status else "") + ": the controller "
            "of what it publishes to the hub and of what its own staff are shown."
        ],
        tables=[
            Table(
                f"Record of processing: {controller.name}",
                ["Article 30(1)", "Record"],
                [
                    ["Controller", controller.name],
                    ["Data protection officer", data_protection_officers(controller, agreement)],
                    [
                        "Purposes: sharing what it publishes",
                        purposes_text(dict.fromkeys(p for r in published for p in r.purposes))
                        or "none: no rule shares what it publishes",
                    ],
                    [
                        "Purposes: what its staff are shown",
                        purposes_text(dict.fromkeys(p for r in received for p in r.purposes))
                        or "none: no rule shares with its staff's roles",
                    ],
                    [
                        "Categories of data subjects",
                        "children (each record's subject); their parents, carers, siblings and "
                        "household members named in records; practitioners (in the audit)",
                    ],
                    [
                        "Categories of recipients",
                        "; ".join(
                            f"{roles_text(r.roles)} for {purposes_text(r.purposes)}"
                            for r in published
                        )
                        or "none",
                    ],
                    ["Transfers to third countries", "none"],
                    ["Retention", retention_text(facts)],
                    [
                        "Technical and organisational security measures",
                        "those of the hub, the same for every controller: see "
                        "'Technical and organisational security measures' below",
                    ],
                ],
            ),
            Table(
                f"Categories of personal data {controller.name} publishes",
                ["Record", "What it is"],
                [[spec.description, classification_text(spec.classification)] for spec in kinds],
            ),
            _shared_with_table(controller, published, everyone),
        ],
    )


def build_ropa(
    agreement: Agreement,
    everyone: Sequence[Controller],
    facts: DeploymentFacts,
    as_of: datetime,
    generated_at: datetime,
) -> GovernanceDocument:
    return GovernanceDocument(
        f"Record of processing activities: {readable_label(agreement.agreement)}",
        [
            *document_header(agreement, as_of, generated_at),
            "UK GDPR Article 30: one record for each controller. Each agency in the "
            "partnership is a controller for what it publishes to the hub and for what its own "
            "staff are shown.",
        ],
        [
            Section(
                "Controllers",
                sections=[_controller_section(c, agreement, everyone, facts) for c in everyone],
            ),
            Section(
                "Technical and organisational security measures",
                bullets=security_measures(facts),
            ),
            Section("Retention", paragraphs=[retention_text(facts)]),
            Section(
                "Special category and criminal offence data",
                tables=[classified_table()],
            ),
            Section("The sharing rules", tables=[rules_table(agreement)]),
        ],
    )


# The data protection impact assessment -----------------------------------------------------


def _flows_table(agreement: Agreement, everyone: Sequence[Controller]) -> Table:
    rows = []
    for rule in agreement.rules:
        publishers = [c.name for c in everyone if c.agency_type in rule.agency_types]
        rows.append(
            [
                ", ".join(publishers) or types_text(rule.agency_types),
                f"{roles_text(rule.roles)} ({employers(map(str, rule.roles), everyone)})",
                purposes_text(rule.purposes),
                kinds_text(rule),
                ", ".join(ACTION_NAMES[a] for a in rule.actions),
            ]
        )
    return Table(
        "Who is shown what, through the hub",
        ["From", "To", "For", "What", "How"],
        rows,
    )


def _risks(agreement: Agreement, everyone: Sequence[Controller], facts: DeploymentFacts) -> Table:
    leads = [
        p.name for c in everyone for p in c.staff if p.id in agreement.lead_data_protection_officers
    ]
    redacting = [r for r in agreement.rules if r.redact]
    not_parties = [c.name for c in everyone if not c.party]
    rows = [
        [
            "A practitioner sees a child's record without a need to",
            "Only the agreement's rules permit anything (default deny), for a stated purpose and "
            "a legitimate relationship to the child; break-glass is limited to "
            f"{facts.break_glass_minutes} minutes, raises a review for a data protection "
            "officer and can be ended by its holder.",
            "Low",
        ],
        [
            "More is shared than the purpose needs",
            "Each rule caps the sensitivity shared and removes fields before sharing ("
            + (
                "; ".join(f"{r.description}: {redactions_text(r)}" for r in redacting)
                or "no rule removes fields"
            )
            + ").",
            "Medium: the rules are the partnership's judgement; review them with each version",
        ],
        [
            "Sharing puts the child at greater risk (e.g. a new address reaching a violent parent)",
            "Publishers withhold an item from roles or agency types, with a reason, decider and "
            "review date visible to data protection officers; shielded details stay shielded "
            "in every view, export and after identity merges.",
            "Low",
        ],
        [
            "Special category or criminal offence data is shared without a condition",
            "Every rule names its Article 9 and Article 10 conditions, or the agreement is "
            "refused when it loads; each disclosure's audit entry records the conditions relied "
            "on for the items disclosed.",
            "Low",
        ],
        [
            "The store is copied or stolen",
            "Per-child encryption under a key-encryption key "
            + (
                "held in the deployment's secret store"
                if facts.kek_from_secret_store
                else "in key files"
            )
            + "; keyed pseudonyms instead of NHS numbers.",
            "Low"
            if facts.kek_from_secret_store or facts.keys_dir_explicit
            else "High: keys are kept beside the data (set HUB_KEK or HUB_KEYS_DIR)",
        ],
        [
            "Records or the audit are altered or deleted",
            "Signed Merkle checkpoints of the event log and the audit ledger, which partners "
            "hold and can verify.",
            "Low",
        ],
        [
            "Records are kept longer than needed",
            retention_text(facts),
            "Low",
        ],
        [
            "Nobody can say who saw what",
            "Every disclosure is audited before it happens; data protection officers answer "
            "who saw a child, what a practitioner saw, break-glass, withheld items and subject "
            "access requests"
            + (
                f"; the partnership's lead data protection officers: {', '.join(leads)}"
                if leads
                else ""
            )
            + ".",
            "Low",
        ],
        [
            "Interception in transit or impersonation",
            " ".join(
                m for m in security_measures(facts) if m.startswith(("Transport", "Authentication"))
            ),
            "High: turn off development tokens, use TLS and secure cookies"
            if facts.dev_tokens
            or not facts.kafka_security_protocol.endswith("SSL")
            or not facts.cookie_secure
            else "Low",
        ],
    ]
    if not_parties:
        rows.append(
            [
                "An organisation outside the agreement takes part",
                "The record of processing names every controller; these are not parties to "
                f"the agreement: {', '.join(not_parties)}.",
                "High until they sign or are removed",
            ]
        )
    return Table(
        "Risks to children and others, and how the hub mitigates them",
        ["Risk", "How the hub mitigates it", "Residual risk"],
        rows,
    )


def build_dpia(
    agreement: Agreement,
    everyone: Sequence[Controller],
    facts: DeploymentFacts,
    as_of: datetime,
    generated_at: datetime,
) -> GovernanceDocument:
    parties = [c for c in everyone if c.party]
    used = {
        (kind, condition)
        for r in agreement.rules
        for kind, condition in (
            (ConditionKind.SPECIAL_CATEGORY, r.special_category_condition),
            (ConditionKind.CRIMINAL_OFFENCE, r.criminal_offence_condition),
        )
        if condition is not None
    }
    return GovernanceDocument(
        f"Data protection impact assessment: {readable_label(agreement.agreement)}",
        [
            *document_header(agreement, as_of, generated_at),
            "The description a data protection impact assessment (UK GDPR Article 35) signs "
            "off: what is processed, how it flows, on which lawful bases and conditions, and "
            "the risks the hub mitigates. The assessment of necessity, proportionality and "
            "residual risk is the partnership's, recorded at the end.",
        ],
        [
            Section(
                "The processing",
                paragraphs=[
                    "Agencies publish safeguarding events about a child once, against the "
                    "child's NHS number; the hub keeps them in an encrypted, append-only log "
                    "and shows each practitioner a multi-agency chronology as the agreement "
                    "allows, auditing every disclosure first. Parties: "
                    + (", ".join(c.name for c in parties) or "none named in the agreement")
                    + ".",
                ],
            ),
            Section("Data flows", tables=[_flows_table(agreement, everyone)]),
            Section(
                "Special category and criminal offence data",
                paragraphs=[
                    "Which content is special category (UK GDPR Article 9(1)) or criminal "
                    "offence data (Article 10) is defined once, in the hub's event taxonomy:"
                ],
                tables=[classified_table()],
            ),
            Section(
                "Lawful bases and conditions",
                paragraphs=[
                    "Each rule's lawful basis and conditions, as the agreement names them; each "
                    "disclosure records those of the rule that permitted it."
                ],
                bullets=[
                    f"{CONDITION_KIND_LABELS[kind].capitalize()}: {condition_text(kind, c)}"
                    for kind, c in sorted(used)
                ],
                tables=[rules_table(agreement)],
            ),
            Section("Risks and mitigations", tables=[_risks(agreement, everyone, facts)]),
            Section(
                "Security measures in this deployment",
                bullets=security_measures(facts),
            ),
            Section(
                "Sign-off",
                tables=[
                    Table(
                        "Sign-off",
                        ["Role", "Name", "Decision", "Date"],
                        [
                            ["Data protection officer", "", "", ""],
                            ["Caldicott guardian", "", "", ""],
                            ["Senior information risk owner", "", "", ""],
                        ],
                    )
                ],
            ),
        ],
    )
