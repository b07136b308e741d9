import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import MailMessage
import GatewayStore
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import GatewayTestSupport
import Logging
import Synchronization
import Testing

/// Every log line the server writes, to check that no token reaches the logs (LINK-9).
final class LogRecorder: Sendable {
    let lines = Mutex<[String]>([])

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func logger(label: String = "test.web") -> Logger {
        Logger(label: label) { label in RecordingHandler(label: label, recorder: self) }
    }

    struct RecordingHandler: LogHandler {
        let label: String
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let line = "\(event.level) \(label) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            recorder.lines.withLock { $0.append(line) }
        }
    }
}

/// A real SQLite store with a directory, a key ring, a movable clock, and the web application over
/// the project's real templates.
struct WebFixture {
    static let projectRoot = TestProject.root
    static let publicURL = "http://gateway.example.test"

    let store: SQLiteStore
    /// The approval service over `store`, at the instants the tests choose.
    let gateway: TestGateway
    var service: ApprovalService { gateway.service }
    let keyRing: KeyRing
    let signer: TokenSigner
    let clock: TestClock
    let logs = LogRecorder()
    let settings: WebSettings

    static let directory = DirectorySnapshot(
        users: [
            User(email: "admin@example.test", name: "Ada Admin", role: .admin),
            User(email: "reviewer@example.test", name: "Rex Reviewer", role: .accessReviewer),
            User(email: "approver1@example.test", name: "Ann Approver"),
            User(email: "approver2@example.test", name: "Abe Approver"),
            User(email: "approver3@example.test", name: "Amy Approver"),
            User(email: "requester1@example.test", name: "Rita Requester"),
            User(email: "requester2@example.test", name: "Rob Requester"),
        ],
        groups: [
            Group(name: "db-approvers", members: ["approver1@example.test", "approver2@example.test"]),
            Group(name: "web-approvers", members: ["approver3@example.test"]),
        ],
        resources: [
            Resource(name: "prod-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 14_400, 28_800]),
            Resource(name: "staging-web", approverGroups: ["web-approvers"]),
            Resource(name: "vault", approverGroups: ["db-approvers"], linkCodeRequired: true),
            Resource(name: "payroll", approverGroups: ["db-approvers"], linkDecisionsEnabled: false),
            // A low-risk resource whose links decide without a session (an admin relaxed LINK-2).
            Resource(name: "wiki", approverGroups: ["web-approvers"], linkSignInRequired: false),
            // Two-person approval: two of admin, reviewer, approver1 and approver2.
            Resource(name: "two-key-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 14_400], approvalsRequired: 2),
        ]
    )

    init(
        settings configure: (inout WebSettings) -> Void = { _ in },
        service configureService: (inout ApprovalService.Settings) -> Void = { _ in }
    ) async throws {
        store = try SQLiteStore(path: TestGateway.temporaryDatabasePath("gateway-web"))
        clock = TestClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        keyRing = try KeyRing(text: KeyRing.generateKeyLine(), source: "test")
        var serviceSettings = ApprovalService.Settings()
        configureService(&serviceSettings)
        gateway = try TestGateway(store: store, clock: clock, keyRing: keyRing, settings: serviceSettings)
        _ = try await gateway.syncDirectory(Self.directory, now: clock.now)
        signer = TokenSigner(keyRing: keyRing)
        var settings = try WebSettings(listen: "127.0.0.1:0", publicURL: Self.publicURL, templatesDirectory: Self.projectRoot.appendingPathComponent("templates").path)
        configure(&settings)
        self.settings = settings
    }

    func application() async throws -> GatewayWebServer.WebApplication {
        try await GatewayWebServer.makeApplication(service: service, signer: signer, settings: settings, logger: logs.logger())
    }

    /// The sign-in link path (`/login/TOKEN`) of a queued sign-in email, as its recipient reads it:
    /// the link is signed when the email is rendered and never stored.
    func signInPath(_ entry: OutboxEntry) async throws -> String {
        let renderer = NotificationRenderer(
            templates: try await EmailTemplates(directory: Self.projectRoot.appendingPathComponent("templates").path),
            settings: RenderSettings(publicURL: Self.publicURL, replyAddress: "gateway+{key}@example.test", fromAddress: "gateway@example.test", fromName: "Approval Gateway"),
            signer: signer, store: store
        )
        let message = try MailMessage(parsing: try await renderer.render(entry, now: clock.now).raw)
        let text = try #require(message.allParts.first { $0.contentType.mimeType == "text/plain" }?.text())
        let start = try #require(text.range(of: Self.publicURL + "/login/"))
        let token = text[start.upperBound...].prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        return "/login/" + token
    }

    /// Opens a request as `requester`.
    func request(_ requester: String = "requester1@example.test", resource: String = "prod-db", reason: String = "incident 42") async throws -> AccessRequest {
        try await gateway.createRequest(NewAccessRequest(requester: requester, resource: resource, reason: reason, durationSeconds: ["prod-db", "two-key-db"].contains(resource) ? 14_400 : nil), now: clock.now)
    }

    /// An emailed link path, signed the way the notification renderer signs it.
    func link(_ kind: LinkKind, request: AccessRequest?, to reviewer: String, expiresAt: Date? = nil) -> String {
        let expiry = expiresAt ?? request?.expiresAt ?? clock.now.addingTimeInterval(900)
        switch kind {
        case .review:
            return "/review/" + signer.sign(TokenClaims(purpose: .review, requestID: request?.id, subject: reviewer, issuedAt: clock.now, expiresAt: expiry))
        case .approve, .deny:
            return "/decide/" + signer.sign(TokenClaims(purpose: .decide, requestID: request?.id, subject: reviewer, action: kind.rawValue, issuedAt: clock.now, expiresAt: expiry))
        case .login:
            return "/login/" + signer.sign(TokenClaims(purpose: .login, requestID: nil, subject: reviewer, issuedAt: clock.now, expiresAt: expiry))
        }
    }

    enum LinkKind: String, CaseIterable {
        case review, approve, deny, login
    }

    /// What a visit must not change (LINK-1): every request's state, the audit log (sessions and
    /// decisions are audited), the outbox and the used tokens.
    struct Snapshot: Equatable {
        var states: [Int64: RequestState]
        var auditCount: Int
        var outboxCount: Int
    }

    func snapshot() async throws -> Snapshot {
        let requests = try await store.requests(RequestFilter(limit: 10_000))
        return Snapshot(
            states: Dictionary(uniqueKeysWithValues: requests.map { ($0.id, $0.state) }),
            auditCount: try await store.auditLog(requestID: nil).count,
            outboxCount: try await store.outboxEntries(status: nil, limit: 100_000).count
        )
    }
}
