import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport

enum Fixture {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static let directory = DirectorySnapshot(
        users: [
            User(email: "admin@example.test", name: "Ada Admin", role: .admin),
            User(email: "devops@example.test", name: "Dev Ops", role: .devops),
            User(email: "approver1@example.test", name: "Ann Approver"),
            User(email: "approver3@example.test", name: "Amy Approver"),
            User(email: "requester1@example.test", name: "Rita Requester"),
            User(email: "requester2@example.test", name: "Rob Requester"),
        ],
        groups: [
            Group(name: "db-approvers", members: ["approver1@example.test"]),
            Group(name: "web-approvers", members: ["approver3@example.test"]),
        ],
        resources: [
            Resource(name: "prod-db", approverGroups: ["db-approvers"]),
            Resource(name: "staging-web", approverGroups: ["web-approvers"]),
            Resource(name: "wiki", approverGroups: ["web-approvers"], linkSignInRequired: false),
            Resource(name: "vault", approverGroups: ["db-approvers"], linkCodeRequired: true),
        ]
    )

    static func gateway() async throws -> TestGateway {
        try await TestGateway.make(directory: directory, at: start)
    }

    static func open(_ gateway: TestGateway, requester: String = "requester1@example.test", resource: String = "prod-db") async throws -> AccessRequest {
        try await gateway.createRequest(NewAccessRequest(requester: requester, resource: resource, reason: "incident 42"), now: gateway.clock.now)
    }
}
