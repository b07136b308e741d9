import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayStore

/// A decision as a test states it: who, what, and through which channel. ``TestGateway`` turns it
/// into the proof that channel really gives the service (a session, a signed-in link, a personal
/// key, a verified reply), so every channel's path is exercised.
public struct DecisionAttempt: Sendable {
    public var requestID: Int64
    public var reviewer: String
    public var action: DecisionAction
    public var channel: DecisionChannel
    public var comment: String?
    /// Channel evidence for the audit log.
    public var evidence: [String: String]

    public init(requestID: Int64, reviewer: String, action: DecisionAction, channel: DecisionChannel, comment: String? = nil, evidence: [String: String] = [:]) {
        self.evidence = evidence
        self.requestID = requestID
        self.reviewer = EmailAddress.normalize(reviewer)
        self.action = action
        self.channel = channel
        self.comment = comment
    }
}

/// The folder of this test process's databases: created on first use, removed at exit, so that
/// test runs do not leave thousands of databases in the temporary folder.
private let testDatabaseRoot: String = {
    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("approval-gateway-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))").path
    try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: testDatabaseRoot) }
    return root
}()

/// A real store (SQLite unless a test picks PostgreSQL), a movable clock and the approval service
/// over them, with the use cases at a given instant (the service reads its clock; these set it first).
public struct TestGateway: Sendable {
    public let store: any GatewayStorage
    public let clock: TestClock
    public let service: ApprovalService
    public let keyRing: KeyRing

    /// A fresh database in a folder of its own, inside this test process's folder, which is
    /// removed when the process exits.
    public static func temporaryDatabasePath(_ label: String = "gateway") -> String {
        temporaryFolder(label).appendingPathComponent("gateway.sqlite").path
    }

    /// A new path (not yet created) inside this test process's folder, which is removed when the
    /// process exits.
    public static func temporaryFolder(_ label: String) -> URL {
        URL(fileURLWithPath: testDatabaseRoot).appendingPathComponent("\(label)-\(UUID().uuidString)")
    }

    public init(store: any GatewayStorage, clock: TestClock = TestClock(), keyRing: KeyRing? = nil, settings: ApprovalService.Settings = ApprovalService.Settings()) throws {
        self.store = store
        self.clock = clock
        let ring = try keyRing ?? KeyRing(text: KeyRing.generateKeyLine(), source: "test")
        self.keyRing = ring
        self.service = ApprovalService(storage: store, keyRing: ring, settings: settings, clock: clock)
    }

    /// A gateway over a new database holding `directory`.
    public static func make(directory: DirectorySnapshot, at start: Date, settings: ApprovalService.Settings = ApprovalService.Settings()) async throws -> TestGateway {
        let gateway = try TestGateway(store: SQLiteStore(path: temporaryDatabasePath()), clock: TestClock(start), settings: settings)
        _ = try await gateway.syncDirectory(directory, now: start)
        return gateway
    }

    /// The store as SQLite, for tests that reach under the repositories (raw SQL on the file).
    public var sqlite: SQLiteStore {
        guard let store = store as? SQLiteStore else { preconditionFailure("this test needs the SQLite store") }
        return store
    }

    // MARK: Use cases at an instant

    public func syncDirectory(_ snapshot: DirectorySnapshot, now: Date) async throws -> DirectorySyncReport {
        clock.set(now)
        return try await service.importDirectory(snapshot)
    }

    public func createRequest(_ new: NewAccessRequest, now: Date) async throws -> AccessRequest {
        clock.set(now)
        return try await service.openRequest(
            RequestDraft(requester: new.requester, resource: new.resource, reason: new.reason, durationSeconds: new.durationSeconds, kind: new.kind), by: .cli
        )
    }

    public func cancelRequest(id: Int64, requester: String, now: Date) async throws -> AccessRequest {
        clock.set(now)
        return try await service.cancelRequest(id: id, namedRequester: requester, by: .cli)
    }

    public func expireRequests(now: Date) async throws -> [AccessRequest] {
        clock.set(now)
        var expired: [AccessRequest] = []
        for id in try await service.expireOverdueRequests() {
            if let request = try await store.request(id: id) { expired.append(request) }
        }
        return expired
    }

    public func sendReminders(now: Date, lead: TimeInterval) async throws -> [Int64] {
        clock.set(now)
        return try await service.sendReminders(lead: lead)
    }

    public func autoLock(now: Date) async throws -> [AccessLock] {
        clock.set(now)
        return try await service.autoLock()
    }

    public func lock(user: String, resource: String, now: Date) async throws -> AccessLock {
        clock.set(now)
        return try await service.lock(user: user, resource: resource)
    }

    public func recordUsage(user: String, resource: String, now: Date) async throws {
        clock.set(now)
        try await service.recordUsage(user: user, resource: resource, by: .cli)
    }

    public func setNotificationPreferences(_ preferences: NotificationPreferences, for email: String, now: Date) async throws {
        clock.set(now)
        try await service.setNotificationPreferences(preferences, for: email, by: .cli)
    }

    public func setGroupMembers(_ members: [String], group: String, now: Date) async throws {
        clock.set(now)
        _ = try await service.setGroupMembers(members, group: group, create: true, by: .cli)
    }

    /// Decides through the channel the attempt names, with the proof that channel gives.
    public func decide(_ attempt: DecisionAttempt, now: Date) async throws -> DecisionOutcome {
        clock.set(now)
        let proof: DecisionProof
        switch attempt.channel {
        case .cli:
            proof = .cli(reviewer: attempt.reviewer)
        case .web:
            proof = .session(try await viewer(attempt.reviewer))
        case .link:
            let expires = try await store.request(id: attempt.requestID)?.expiresAt ?? now.addingTimeInterval(3600)
            let claims = TokenClaims(purpose: .decide, requestID: attempt.requestID, subject: attempt.reviewer, action: attempt.action.rawValue, issuedAt: now, expiresAt: expires)
            proof = .link(LinkProof(claims: claims, keyID: keyRing.signingKey.id, signedInAs: attempt.reviewer, code: nil))
        case .api:
            proof = .apiKey(APIKey(id: 0, name: "test-\(attempt.reviewer)", owner: .user(attempt.reviewer), createdAt: now), namedReviewer: nil)
        case .reply:
            return try await reply(attempt, now: now)
        }
        return try await service.decide(DecisionCommand(requestID: attempt.requestID, action: attempt.action, comment: attempt.comment, proof: proof, evidence: attempt.evidence))
    }

    /// The signed-in viewer `email` would be (whether or not the directory knows them).
    public func viewer(_ email: String) async throws -> Viewer {
        let user = try await store.user(email: email) ?? User(email: email, name: email)
        let groups = Set(try await store.groups().filter { $0.members.contains(user.email) }.map(\.name))
        return Viewer(user: user, groups: groups, sessionDigest: String(repeating: "0", count: 64), reviewableResources: [])
    }

    /// A verified reply (key, single From, authenticated domain) handled by the service, as the
    /// inbox would hand it over.
    func reply(_ attempt: DecisionAttempt, now: Date) async throws -> DecisionOutcome {
        guard let reviewerID = try await store.userID(email: attempt.reviewer) else {
            return .refused(DecisionRefusal(.unknownReviewer, detail: "not a user"), request: nil)
        }
        let expires = try await store.request(id: attempt.requestID)?.expiresAt ?? now.addingTimeInterval(3600)
        let claim = ReplyClaim(
            token: .key(ReplyKey(requestID: attempt.requestID, reviewerID: reviewerID, expiresAt: expires), digest: "test"),
            sender: .mailbox(attempt.reviewer), authentication: .passed("dmarc=pass"),
            command: .command(attempt.action, comment: attempt.comment)
        )
        let messageID = attempt.evidence["message_id"].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "<>")) } ?? UUID().uuidString
        let mail = InboundMail(key: "mid:\(messageID)", messageID: messageID, mailbox: "INBOX", uidValidity: 1, uid: 1, content: .reply(claim))
        let result = try await service.handleInbound(mail)
        let request = try await store.request(id: attempt.requestID)
        switch result.outcome {
        case .decided:
            guard let request else { throw ServiceInvariantError("decided request \(attempt.requestID) is gone") }
            let grant = try await store.read { try $0.grant(requestID: attempt.requestID) }
            let right: ReviewRight = (try await store.user(email: attempt.reviewer)).map { $0.role.reviewsEverything ? .role($0.role) : .approverGroup("?") } ?? .approverGroup("?")
            return .decided(request, grant: grant, right: right)
        case .approvalCounted:
            guard let request else { throw ServiceInvariantError("approved request \(attempt.requestID) is gone") }
            return .approvalRecorded(request, right: .approverGroup("?"))
        case .refused(let code):
            return .refused(DecisionRefusal(code, detail: code.rawValue, state: request?.state, decidedBy: request?.decision?.reviewer), request: request)
        case .ignored, .rejected, .bounced:
            throw ServiceInvariantError("a verified reply was not judged: \(result.outcome)")
        }
    }
}

extension DecisionOutcome {
    public var refusalCode: DecisionRefusal.Code? {
        if case .refused(let refusal, _) = self { return refusal.code }
        return nil
    }

    public var decidedRequest: AccessRequest? {
        if case .decided(let request, _, _) = self { return request }
        return nil
    }
}
