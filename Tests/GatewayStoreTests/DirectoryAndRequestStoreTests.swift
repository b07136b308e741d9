import Foundation
import GatewayCore
import GatewayApp
import GatewayStore
import GatewayTestSupport
import Testing

@Suite struct DirectoryAndRequestStoreTests {
    @Test("Directory sync is idempotent and reports what changed", arguments: StoreBackend.allCases)
    func syncIsIdempotent(backend: StoreBackend) async throws {
        let gateway = try TestGateway(store: await backend.makeStore().store, clock: TestClock(Fixture.start))
        let store = gateway.store
        let first = try await gateway.syncDirectory(Fixture.directory, now: Fixture.start)
        #expect(first.usersAdded == 9)
        #expect(first.groupsAdded == 2)
        #expect(first.resourcesAdded == 2)
        #expect(try await gateway.syncDirectory(Fixture.directory, now: Fixture.start).changedAnything == false)

        var changed = Fixture.directory
        changed.users[1].name = "Ann B. Approver"
        changed.groups.removeLast()
        changed.resources[1].approverGroups = []
        changed.resources[0].allowedDurations = [1800]
        let report = try await gateway.syncDirectory(changed, now: Fixture.start)
        #expect(report.usersUpdated == 1)
        #expect(report.groupsRemoved == 1)
        #expect(report.resourcesUpdated == 2)
        #expect(try await store.resource(named: "prod-db")?.allowedDurations == [1800])
        #expect(try await store.resource(named: "staging-web")?.approverGroups == [])
        #expect(try await store.user(email: "approver1@example.test")?.name == "Ann B. Approver")
        #expect(try await store.groups().map(\.name) == ["db-approvers"])
    }

    @Test("Requests are listed newest first and filtered by state, resource and requester", arguments: StoreBackend.allCases)
    func listing(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let first = try await gateway.createRequest(Fixture.newRequest("requester1@example.test"), now: Fixture.start)
        let second = try await gateway.createRequest(Fixture.newRequest("requester2@example.test"), now: Fixture.start.addingTimeInterval(1))
        let third = try await gateway.createRequest(Fixture.newRequest("requester1@example.test", resource: "staging-web", duration: nil), now: Fixture.start.addingTimeInterval(2))
        _ = try await gateway.decide(DecisionAttempt(requestID: second.id, reviewer: "admin@example.test", action: .deny, channel: .cli), now: Fixture.start.addingTimeInterval(3))
        #expect(try await store.requests(RequestFilter()).map(\.id) == [third.id, second.id, first.id])
        #expect(try await store.requests(RequestFilter(states: [.pending])).map(\.id) == [third.id, first.id])
        #expect(try await store.requests(RequestFilter(states: [.denied])).map(\.id) == [second.id])
        #expect(try await store.requests(RequestFilter(resource: "staging-web")).map(\.id) == [third.id])
        #expect(try await store.requests(RequestFilter(requester: "REQUESTER1@example.test")).map(\.id) == [third.id, first.id])
        #expect(try await store.requests(RequestFilter(limit: 1, offset: 1)).map(\.id) == [second.id])
        #expect(try await store.requests(RequestFilter(recentSince: Fixture.start.addingTimeInterval(4))).map(\.id) == [third.id, first.id])
        #expect(try await store.requests(RequestFilter(recentSince: Fixture.start.addingTimeInterval(1))).map(\.id) == [third.id, second.id, first.id])
    }

    @Test("Keyset pages walk the newest-first list both ways and from the oldest end, ties on the instant broken by id", arguments: StoreBackend.allCases)
    func keysetPages(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        var ids: [Int64] = []
        // Seven requests; the 3rd and 4th are opened at the same instant.
        let offsets: [TimeInterval] = [0, 10, 20, 20, 30, 40, 50]
        let pairs = [("requester1", "prod-db"), ("requester2", "prod-db"), ("requester1", "staging-web"), ("requester2", "staging-web"),
                     ("approver5", "prod-db"), ("approver5", "staging-web"), ("support", "prod-db")]
        for (index, (requester, resource)) in pairs.enumerated() {
            let request = try await gateway.createRequest(
                Fixture.newRequest("\(requester)@example.test", resource: resource, duration: resource == "prod-db" ? 3600 : nil),
                now: Fixture.start.addingTimeInterval(offsets[index])
            )
            ids.append(request.id)
        }
        let newestFirst = Array(ids.reversed())
        func page(_ position: RequestFilter.Position, limit: Int = 3, resource: String? = nil) async throws -> [Int64] {
            try await gateway.store.requests(RequestFilter(resource: resource, limit: limit, position: position)).map(\.id)
        }
        #expect(try await page(.newest) == Array(newestFirst[0..<3]))
        #expect(try await page(.olderThan(newestFirst[2])) == Array(newestFirst[3..<6]))
        #expect(try await page(.olderThan(newestFirst[5])) == [newestFirst[6]])
        #expect(try await page(.oldest) == Array(newestFirst[4..<7]))
        #expect(try await page(.newerThan(newestFirst[4])) == Array(newestFirst[1..<4]))
        #expect(try await page(.newerThan(newestFirst[0])).isEmpty)
        // Walking older one row at a time visits every request once, across the tie.
        var walked = try await page(.newest, limit: 1)
        while let last = walked.last, let next = try await page(.olderThan(last), limit: 1).first { walked.append(next) }
        #expect(walked == newestFirst)
        // With a filter.
        let prod = try await gateway.store.requests(RequestFilter(resource: "prod-db")).map(\.id)
        #expect(try await page(.olderThan(prod[0]), limit: 2, resource: "prod-db") == Array(prod[1..<3]))
        #expect(try await page(.oldest, limit: 2, resource: "prod-db") == Array(prod.suffix(2)))
    }

    @Test("One pending request per requester and resource; a new one is allowed once it is resolved", arguments: StoreBackend.allCases)
    func duplicatePending(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let first = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        await #expect(throws: RequestError(.duplicatePending, "requester1@example.test already has pending request \(first.id) for prod-db")) {
            try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        }
        // After its deadline the old request is expired on the spot and no longer blocks.
        let next = try await gateway.createRequest(Fixture.newRequest(), now: first.expiresAt)
        #expect(try await store.request(id: first.id)?.state == .expired)
        #expect(next.state == .pending)
    }

    @Test("Only the requester cancels, and only while pending", arguments: StoreBackend.allCases)
    func cancel(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        await #expect(throws: RequestError.self) {
            try await gateway.cancelRequest(id: request.id, requester: "admin@example.test", now: Fixture.start)
        }
        let cancelled = try await gateway.cancelRequest(id: request.id, requester: "requester1@example.test", now: Fixture.start)
        #expect(cancelled.state == .cancelled)
        #expect(cancelled.resolvedAt == Fixture.start)
        do {
            _ = try await gateway.cancelRequest(id: request.id, requester: "requester1@example.test", now: Fixture.start)
            Issue.record("cancelled twice")
        } catch let error as RequestError {
            #expect(error.code == .notPending)
        }
    }

    @Test("The expiry sweep expires exactly the overdue pending requests", arguments: StoreBackend.allCases)
    func expirySweep(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let early = try await gateway.createRequest(Fixture.newRequest("requester1@example.test"), now: Fixture.start)
        let late = try await gateway.createRequest(Fixture.newRequest("requester2@example.test"), now: Fixture.start.addingTimeInterval(3600))
        #expect(try await gateway.expireRequests(now: early.expiresAt.addingTimeInterval(-1)).isEmpty)
        let expired = try await gateway.expireRequests(now: early.expiresAt)
        #expect(expired.map(\.id) == [early.id])
        #expect(expired.first?.state == .expired)
        #expect(try await store.request(id: late.id)?.state == .pending)
        #expect(try await gateway.expireRequests(now: early.expiresAt).isEmpty)
    }

    @Test("Requests for unknown users or resources, and disallowed durations, are refused", arguments: StoreBackend.allCases)
    func invalidRequests(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        for (new, code) in [
            (Fixture.newRequest("nobody@example.test"), RequestError.Code.unknownRequester),
            (Fixture.newRequest(resource: "prod-dbx"), .unknownResource),
            (Fixture.newRequest(duration: 2 * 3600), .durationNotAllowed),
        ] {
            do {
                _ = try await gateway.createRequest(new, now: Fixture.start)
                Issue.record("accepted \(new)")
            } catch let error as RequestError {
                #expect(error.code == code)
            }
        }
        #expect(try await store.requests(RequestFilter()).isEmpty)
    }
}
