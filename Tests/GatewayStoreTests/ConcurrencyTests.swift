import Foundation
import GatewayCore
import GatewayApp
import GatewayStore
import GatewayTestSupport
import Testing

/// AUTHZ-4 / TEST-7: the first decision wins atomically.
@Suite struct ConcurrencyTests {
    static let reviewers = ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test"]

    @Test("AUTHZ-4: 12 concurrent mixed attempts on one request, 20 times: exactly one decision, at most one grant", arguments: StoreBackend.allCases)
    func firstDecisionWins(backend: StoreBackend) async throws {
        let (gateway, location) = try await Fixture.gateway(backend)
        let store = gateway.store
        // A second, independent connection: the server and the CLI (or two gateways) at once.
        let other = try await backend.reopen(location, like: gateway)
        for round in 0..<20 {
            let now = Fixture.start.addingTimeInterval(Double(round) * 60)
            let request = try await gateway.createRequest(Fixture.newRequest(round.isMultiple(of: 2) ? "requester1@example.test" : "requester2@example.test"), now: now)
            let outcomes = try await withThrowingTaskGroup(of: DecisionOutcome.self) { group in
                for attempt in 0..<12 {
                    let target = attempt.isMultiple(of: 2) ? gateway : other
                    let reviewer = Self.reviewers[attempt % Self.reviewers.count]
                    let action: DecisionAction = attempt % 3 == 0 ? .deny : .approve
                    let channel: DecisionChannel = [.web, .reply, .link, .api][attempt % 4]
                    group.addTask {
                        try await target.decide(DecisionAttempt(requestID: request.id, reviewer: reviewer, action: action, channel: channel), now: now.addingTimeInterval(1))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.compactMap(\.decidedRequest)
            #expect(winners.count == 1, "round \(round)")
            #expect(outcomes.filter { $0.refusalCode == .notPending }.count == 11, "round \(round)")
            let stored = try #require(try await store.request(id: request.id))
            #expect(stored.decision == winners.first?.decision)
            let log = try await store.auditLog(requestID: request.id).filter { $0.action == .decide }
            #expect(log.count == 12)
            #expect(log.filter { $0.outcome == .accepted }.count == 1)
            // Settle the access so the next round's request for the same requester is allowed.
            if stored.state == .approved {
                let status = try await store.accessStatus(user: stored.requester, resource: "prod-db", at: now.addingTimeInterval(2))
                #expect(status.grant?.requestID == request.id)
            }
        }
    }
}
