import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import GatewayStore
import GatewayTestSupport
import Logging

/// A store with a directory, a key ring and a renderer over the project's real templates.
struct GatewayFixture {
    static let projectRoot = TestProject.root

    let store: SQLiteStore
    /// The approval service over `store`, at the instants the tests choose.
    let gateway: TestGateway
    let keyRing: KeyRing
    let renderer: NotificationRenderer
    let installation: String

    static let directory = DirectorySnapshot(
        users: [
            User(email: "admin@example.test", name: "Ada Admin", role: .admin),
            User(email: "approver1@example.test", name: "Ann Approver"),
            User(email: "approver2@example.test", name: "Abe Approver"),
            User(email: "approver3@example.test", name: "Amy Approver"),
            User(email: "requester1@example.test", name: "Rita Requester"),
            User(email: "requester2@example.test", name: "Rob Requester"),
            // A requester who is also an approver of prod-db: never of their own request (AUTHZ-1).
            User(email: "requester3@example.test", name: "Ray Requester"),
            // Not a mailbox of the lab: the server refuses it with 550.
            User(email: "no-such-mailbox@example.test", name: "Nobody"),
            // A remote domain: the lab accepts the mail, then bounces it with a delivery status notification.
            User(email: "ghost@bounce.example.test", name: "Gus Ghost"),
        ],
        groups: [
            Group(name: "db-approvers", members: ["approver1@example.test", "approver2@example.test", "requester3@example.test"]),
            Group(name: "web-approvers", members: ["approver3@example.test"]),
            Group(name: "ghost-approvers", members: ["no-such-mailbox@example.test", "approver3@example.test"]),
            Group(name: "remote-approvers", members: ["ghost@bounce.example.test", "approver3@example.test"]),
        ],
        resources: [
            Resource(name: "prod-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 14_400, 28_800]),
            Resource(name: "staging-web", approverGroups: ["web-approvers"]),
            Resource(name: "ghost-app", approverGroups: ["ghost-approvers"]),
            Resource(name: "remote-app", approverGroups: ["remote-approvers"]),
            Resource(name: "idle-app", approverGroups: ["web-approvers"], autoLockAfterDays: 2),
            // Two-person approval: two of admin, approver1, approver2 and requester3.
            Resource(name: "two-key-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 14_400, 28_800], approvalsRequired: 2),
            // Escalates to web-approvers (approver3) after 2 hours pending.
            Resource(name: "paged-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 14_400], escalateAfterSeconds: 7200, escalationGroups: ["web-approvers"]),
        ]
    )

    init(
        now: Date = Date(), clock: TestClock? = nil, fromAddress: String = "gateway@example.test", replyAddress: String = "gateway+{key}@example.test",
        settings: ApprovalService.Settings = ApprovalService.Settings()
    ) async throws {
        store = try SQLiteStore(path: TestGateway.temporaryDatabasePath("gateway-mail"))
        keyRing = try KeyRing(text: KeyRing.generateKeyLine(), source: "test")
        gateway = try TestGateway(store: store, clock: clock ?? TestClock(now), keyRing: keyRing, settings: settings)
        _ = try await gateway.syncDirectory(Self.directory, now: now)
        // Admin wants outcomes too, so the tests see both preferences at work.
        try await gateway.setNotificationPreferences(NotificationPreferences(newRequests: true, outcomes: false), for: "admin@example.test", now: now)
        let templates = try await EmailTemplates(directory: Self.projectRoot.appendingPathComponent("templates").path)
        renderer = NotificationRenderer(
            templates: templates,
            settings: RenderSettings(publicURL: "http://127.0.0.1:8080/", replyAddress: replyAddress, fromAddress: fromAddress, fromName: "Approval Gateway"),
            signer: TokenSigner(keyRing: keyRing), store: store
        )
        installation = try await store.installationID()
    }

    func worker(
        sender: any EmailSending, clock: any GatewayClock = SystemClock(), maxAttempts: Int = 5,
        lease: TimeInterval = 20, claimRenewal: Duration = .seconds(5)
    ) -> OutboxWorker {
        worker(senders: [sender], clock: clock, maxAttempts: maxAttempts, lease: lease, claimRenewal: claimRenewal)
    }

    /// A worker with one lane per sender (one SMTP connection each).
    func worker(
        senders: [any EmailSending], clock: any GatewayClock = SystemClock(), maxAttempts: Int = 5,
        lease: TimeInterval = 20, claimRenewal: Duration = .seconds(5), batchSize: Int = 50
    ) -> OutboxWorker {
        var policy = OutboxWorker.Policy(maxAttempts: maxAttempts, retryInitial: 1, retryMax: 2)
        policy.lease = lease
        policy.claimRenewal = claimRenewal
        policy.batchSize = batchSize
        return OutboxWorker(store: store, renderer: renderer, senders: senders, policy: policy, clock: clock, logger: Logger(label: "test.outbox"))
    }
}
