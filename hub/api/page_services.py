"""What the web pages use of the wired-up hub, and nothing more: the pages (and their sessions)
are handed an object with these services (`hub.bootstrap.Hub` is one), never the hub's other
parts. Each is read when a page first needs it, as the hub builds its services lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from consumers.inbox.listing import InboxService
    from hub.adapters.agency_registries import AgencyRegistry
    from hub.adapters.directory import PractitionerDirectory
    from hub.adapters.session_stores import SealedSessionStore
    from hub.audit_queries import AuditQueries
    from hub.child_search import ChildSearch
    from hub.disclosure_gate import DisclosureGate
    from hub.federation_discovery import DiscoveryService
    from hub.integrity import IntegrityService
    from hub.replay import ReplayService
    from hub.settings import HubSettings
    from hub.subject_access import SubjectAccessService
    from hub.withholding_reviews import WithholdingReviews


class PageServices(Protocol):
    @property
    def settings(self) -> HubSettings: ...

    @property
    def directory(self) -> PractitionerDirectory: ...

    @property
    def session_store(self) -> SealedSessionStore: ...

    @property
    def gate(self) -> DisclosureGate: ...

    @property
    def child_search(self) -> ChildSearch: ...

    @property
    def audit_queries(self) -> AuditQueries: ...

    @property
    def replay(self) -> ReplayService: ...

    @property
    def integrity(self) -> IntegrityService: ...

    @property
    def agencies(self) -> AgencyRegistry: ...

    @property
    def withholding_reviews(self) -> WithholdingReviews: ...

    @property
    def subject_access(self) -> SubjectAccessService: ...

    @property
    def inbox(self) -> InboxService: ...

    @property
    def discovery(self) -> DiscoveryService: ...
