from tests.graphql import GraphQLClient
from tests.world import VILLAGE, World, birth_date_for_age

REGISTER = """
mutation($input: RegisterChildInput!) {
  registerChild(input: $input) { child { id code ageBand version region { code name } } }
}
"""


async def test_register_and_read(gql: GraphQLClient, world: World) -> None:
    result = await gql(
        REGISTER,
        {
            "input": {
                "regionCode": VILLAGE,
                "birthDate": birth_date_for_age(9).isoformat(),
                "guardianship": "GRANDPARENTS",
                "fatherAway": True,
                "motherAway": True,
                "identity": {"fullName": "王小明"},
            }
        },
        as_="officer",
    )
    print(result)
    child = result.ok()["registerChild"]["child"]
    assert child["region"]["code"] == VILLAGE
