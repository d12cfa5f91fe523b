

async def test_healthz_reports_database(harness):
    response = await harness.client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["database"]["reachable"] is True
