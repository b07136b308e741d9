import Foundation
import GatewayApp
import GatewayCore
import GatewayConfig
import GatewayPostgres
import GatewayStore
import GatewayTestSupport

/// The backends the conformance suite runs against. Another backend adds a case here.
enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    /// A fresh database on the PostgreSQL lab (scripts/postgres-lab) for each test.
    case postgres

    var description: String { rawValue }

    /// A fresh, empty store of this backend, with its location for reopening.
    func makeStore() async throws -> (store: any GatewayStorage, location: String) {
        switch self {
        case .sqlite:
            let path = TestGateway.temporaryDatabasePath("gateway-store-tests")
            return (try SQLiteStore(path: path), path)
        case .postgres:
            let url = try await PostgresLab.freshDatabase("store")
            return (try await PostgresStore.open(url: url, password: PostgresLab.password), url.description)
        }
    }

    /// A second, independent connection to the same data, as another process would have, with the
    /// same clock as `gateway`.
    func reopen(_ location: String, like gateway: TestGateway) async throws -> TestGateway {
        switch self {
        case .sqlite:
            try TestGateway(store: SQLiteStore(path: location), clock: gateway.clock, keyRing: gateway.keyRing)
        case .postgres:
            try TestGateway(
                store: await PostgresStore.open(url: PostgresURL(location), password: PostgresLab.password), clock: gateway.clock, keyRing: gateway.keyRing
            )
        }
    }
}

/// The demo directory's shape, in code.
enum Fixture {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static var directory: DirectorySnapshot {
        DirectorySnapshot(
            users: [
                User(email: "admin@example.test", name: "Ada Admin", role: .admin),
                User(email: "approver1@example.test", name: "Ann Approver"),
                User(email: "approver2@example.test", name: "Abe Approver"),
                User(email: "approver3@example.test", name: "Amy Approver"),
                User(email: "approver4@example.test", name: "Ari Reviewer", role: .accessReviewer),
                User(email: "approver5@example.test", name: "Al Member"),
                User(email: "support@example.test", name: "Sue Support", role: .support),
                User(email: "requester1@example.test", name: "Rita Requester"),
                User(email: "requester2@example.test", name: "Rob Requester"),
            ],
            groups: [
                Group(name: "db-approvers", members: ["approver1@example.test", "approver2@example.test"]),
                Group(name: "web-approvers", members: ["approver3@example.test"]),
            ],
            resources: [
                Resource(name: "prod-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 4 * 3600, 8 * 3600], pendingTTL: 24 * 3600, autoLockAfterDays: 30),
                Resource(name: "staging-web", approverGroups: ["web-approvers"]),
            ]
        )
    }

    /// A gateway over a store of `backend` holding the fixture directory.
    static func gateway(_ backend: StoreBackend) async throws -> (gateway: TestGateway, location: String) {
        let made = try await backend.makeStore()
        let gateway = try TestGateway(store: made.store, clock: TestClock(start))
        _ = try await gateway.syncDirectory(directory, now: start)
        return (gateway, made.location)
    }

    static func newRequest(_ requester: String = "requester1@example.test", resource: String = "prod-db", duration: Int? = 4 * 3600) -> NewAccessRequest {
        NewAccessRequest(requester: requester, resource: resource, reason: "investigating incident 42", durationSeconds: duration)
    }
}

