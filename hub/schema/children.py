"""Child: a registered child, shown in the tiers its reader may see."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from hub.domain.children import ChildView
from hub.domain.coverage import coverage_of
from hub.domain.identity import check_purpose
from hub.schema.context import Info
from hub.schema.federation import CASE_DETAIL, IDENTITY
from hub.schema.ids import uuid_of
from hub.schema.regions import Region, load_region
from hub.vocabulary import ChildStatus, Guardianship, NeedStatus, Sex

if TYPE_CHECKING:
    from hub.schema.coordination import NeedCoverage
    from hub.schema.dedup import LikelyDuplicate
    from hub.schema.needs import Need


@strawberry.federation.type(
    description="Where the child's parents are: case detail.", tags=[CASE_DETAIL]
)
class ParentsAbsence:
    father_away: bool
    mother_away: bool
    since: date | None
    work_location: str | None


@strawberry.federation.type(
    description="The personal part of a child's record. Every read is recorded.", tags=[IDENTITY]
)
class ChildIdentity:
    full_name: str
    id_number_tail: str | None = strawberry.field(
        description="The last four characters of the ID number; the number itself is not kept."
    )
    address: str | None
    guardian_name: str | None
    guardian_relation: str | None
    guardian_phone: str | None


@strawberry.federation.type(
    keys=["id"],
    description="A registered left-behind child. Fields marked as case detail are null for "
    "readers who may not see them.",
)
class Child(relay.Node):
    view: strawberry.Private[ChildView]
    code: str = strawberry.field(description="Pseudonymous register code.")
    age_band: str
    status: ChildStatus
    version: int = strawberry.field(
        description="Send it back with an update; a stale one is refused."
    )
    created_at: datetime
    updated_at: datetime
    birth_date: date | None = strawberry.federation.field(
        description="Case detail.", tags=[CASE_DETAIL]
    )
    sex: Sex | None = strawberry.federation.field(description="Case detail.", tags=[CASE_DETAIL])
    guardianship: Guardianship | None = strawberry.federation.field(
        description="Case detail.", tags=[CASE_DETAIL]
    )
    school: str | None = strawberry.federation.field(description="Case detail.", tags=[CASE_DETAIL])
    parents_absence: ParentsAbsence | None = strawberry.federation.field(
        description="Case detail.", tags=[CASE_DETAIL]
    )

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.view.id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Child | None:
        """A federation reference, seen as ``child(id)`` would see it: null when out of reach."""
        view = await info.context.loaders.child.load(uuid_of(id, "Child"))
        return None if view is None else cls.from_view(view)

    @classmethod
    def from_view(cls, view: ChildView) -> Child:
        absence = None
        if view.father_away is not None and view.mother_away is not None:
            absence = ParentsAbsence(
                father_away=view.father_away,
                mother_away=view.mother_away,
                since=view.parents_away_since,
                work_location=view.parents_work_location,
            )
        return cls(
            view=view,
            code=view.code,
            age_band=view.age_band,
            sex=view.sex,
            status=view.status,
            version=view.version,
            created_at=view.created_at,
            updated_at=view.updated_at,
            birth_date=view.birth_date,
            guardianship=view.guardianship,
            school=view.school,
            parents_absence=absence,
        )

    @strawberry.field(
        description="The child's village for readers of case detail; otherwise its county."
    )
    async def region(self, info: Info) -> Region:
        return await load_region(info, self.view.region_code)

    @strawberry.field(description="The child's county.")
    async def county(self, info: Info) -> Region:
        return await load_region(info, self.view.county_code)

    @strawberry.federation.field(
        description="Names, ID number tail, address and guardian contacts: null unless you may "
        "see them. Each read writes an access record with your purpose.",
        tags=[IDENTITY],
    )
    async def identity(self, info: Info, purpose: str) -> ChildIdentity | None:
        if not self.view.tier.may_ask_identity:
            return None
        key = (self.view.id, check_purpose(purpose))
        found = await info.context.loaders.identity.load(key)
        return None if found is None else ChildIdentity(**found.__dict__)

    @strawberry.federation.field(
        description="Other active children of the same village and birth date whose names sound "
        "the same or nearly: empty unless you may read this child's identity. It shows no name, "
        "so it writes no access record.",
        tags=[IDENTITY],
    )
    async def likely_duplicates(
        self, info: Info
    ) -> list[Annotated[LikelyDuplicate, strawberry.lazy("hub.schema.dedup")]]:
        from hub.schema.dedup import LikelyDuplicate

        found = await info.context.loaders.likely_duplicates.load(self.view.id)
        return [LikelyDuplicate.from_view(view) for view in found]

    @strawberry.field(description="The child's needs, most urgent first.")
    async def needs(
        self, info: Info, statuses: list[NeedStatus] | None = None
    ) -> list[Annotated[Need, strawberry.lazy("hub.schema.needs")]]:
        from hub.schema.needs import Need

        key = (self.view.id, tuple(sorted(set(statuses or ()))))
        views = await info.context.loaders.needs_of_child.load(key)
        return [Need.from_view(view) for view in views]

    @strawberry.field(
        description="Each of the child's needs with its claims, deliveries and what is still "
        "unmet, most urgent first."
    )
    async def coverage(
        self, info: Info
    ) -> list[Annotated[NeedCoverage, strawberry.lazy("hub.schema.coordination")]]:
        from hub.schema.coordination import NeedCoverage

        loaders = info.context.loaders
        needs = await loaders.needs_of_child.load((self.view.id, ()))
        claims = await loaders.claims_of_need.load_many([need.id for need in needs])
        return [
            NeedCoverage.from_view(coverage_of(need, need_claims))
            for need, need_claims in zip(needs, claims, strict=True)
        ]
