import Foundation
import GatewayApp
import GatewayCore
import Logging
import MailTransport
import ServiceLifecycle

/// The inbox processor: picks up replies from the gateway's mailbox (IDLE when the server offers it,
/// polling otherwise or as a fallback), reads each with ``ReplyVerifier``, hands it to the approval
/// service (which judges, decides, records and answers in one transaction), and only after the
/// commit moves the message to the processed or rejected folder (IMAP-3).
///
/// The mailbox's UIDVALIDITY and last processed UID are stored; after a UIDVALIDITY change every
/// message is looked at again and the Message-ID dedupe prevents a second decision (IMAP-1).
public struct InboxProcessor: Service {
    public struct Policy: Sendable {
        public var processedFolder: String
        public var rejectedFolder: String
        /// The longest wait between two looks at the mailbox (IDLE returns earlier on new mail).
        public var pollInterval: Duration
        /// Larger messages are not downloaded (IMAP-4).
        public var maxMessageBytes: Int

        public init(processedFolder: String, rejectedFolder: String, pollInterval: Duration, maxMessageBytes: Int) {
            self.processedFolder = processedFolder
            self.rejectedFolder = rejectedFolder
            self.pollInterval = pollInterval
            self.maxMessageBytes = maxMessageBytes
        }
    }

    let mailbox: IMAPMailbox
    let verifier: ReplyVerifier
    let service: ApprovalService
    let policy: Policy
    let logger: Logger

    public init(mailbox: IMAPMailbox, verifier: ReplyVerifier, service: ApprovalService, policy: Policy, logger: Logger) {
        self.mailbox = mailbox
        self.verifier = verifier
        self.service = service
        self.policy = policy
        self.logger = logger
    }

    public func run() async throws {
        logger.info("inbox processor watching \(mailbox.configuration.username) \(mailbox.configuration.mailbox)")
        // Cancelled (a lost lease) or stopped gracefully, the mailbox drops its connection so that
        // a wait for new mail ends at once.
        await withTaskCancellationHandler {
            await runUntilStopped()
        } onCancel: {
            mailbox.shutdown()
        }
        await mailbox.close()
        logger.info("inbox processor stopped")
    }

    private func runUntilStopped() async {
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    try await processNewMessages()
                    await mailbox.markHealthy()
                    _ = try await mailbox.idle(for: policy.pollInterval)
                } catch let error as MailTransportError where error.kind == .cancelled {
                    break
                } catch {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    logger.warning("inbox: \(error); retrying")
                    // The mailbox applies its own reconnect backoff on the next call (IMAP-5).
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        } onGracefulShutdown: {
            mailbox.shutdown()
        }
    }

    /// Looks at every message after the last processed UID, in order.
    /// - Returns: how many messages were handled.
    @discardableResult
    public func processNewMessages() async throws -> Int {
        let status = try await mailbox.select()
        let name = mailbox.configuration.mailbox
        var lastUID: UInt32 = 0
        if let stored = try await service.mailboxCursor(name) {
            if stored.uidValidity == status.uidValidity {
                lastUID = stored.lastUID
            } else {
                logger.warning("inbox: UIDVALIDITY of \(name) changed from \(stored.uidValidity) to \(status.uidValidity); looking at every message again (already processed ones are recognised by Message-ID)")
                try await service.saveMailboxCursor(name, MailboxCursor(uidValidity: status.uidValidity, lastUID: 0))
            }
        }
        let uids = try await mailbox.uidsAfter(lastUID)
        guard !uids.isEmpty else { return 0 }
        let summaries = try await mailbox.summaries(uids: uids).sorted { $0.uid < $1.uid }
        for summary in summaries {
            try await handle(summary, uidValidity: status.uidValidity)
            try await service.saveMailboxCursor(name, MailboxCursor(uidValidity: status.uidValidity, lastUID: summary.uid))
        }
        return summaries.count
    }

    func handle(_ summary: MessageSummary, uidValidity: UInt32) async throws {
        let name = mailbox.configuration.mailbox
        let mail: InboundMail
        if summary.size > policy.maxMessageBytes {
            // IMAP-4: not downloaded.
            mail = InboundMail(
                key: "oversize:\(name):\(uidValidity):\(summary.uid)", messageID: nil, mailbox: name, uidValidity: uidValidity, uid: summary.uid,
                content: .rejected(.tooLarge), evidence: ["size": "\(summary.size) bytes, over imap.max_message_bytes (\(policy.maxMessageBytes))"]
            )
        } else {
            guard let raw = try await mailbox.fetchRaw(uid: summary.uid) else { return }
            mail = verifier.read(raw: raw, mailbox: name, uidValidity: uidValidity, uid: summary.uid)
        }
        let result = try await service.handleInbound(mail)
        let metadata: Logger.Metadata = ["message_id": "\(mail.messageID ?? "")", "uid": "\(summary.uid)"]
        if result.isDuplicate {
            logger.info("inbox: message \(summary.uid) was already processed (\(result.outcome)); nothing more is done", metadata: metadata)
        } else if case .decided = result.outcome, let request = result.request {
            logger.info("inbox: request \(request.id) \(request.state.rawValue) by \(request.decision?.reviewer ?? "?") by reply", metadata: metadata)
        } else if case .approvalCounted = result.outcome, let request = result.request {
            logger.info("inbox: request \(request.id) approved by reply: \(request.approvalCount) of \(request.approvalsRequired) approvals", metadata: metadata)
        } else {
            logger.info("inbox: message \(summary.uid) changed nothing: \(result.outcome)\(result.answered ? " (answered)" : "")", metadata: metadata)
        }
        // IMAP-3: only after the commit.
        let decided = result.outcome.disposition == .decided
        try await moveAside(summary.uid, to: decided ? policy.processedFolder : policy.rejectedFolder)
    }

    /// Moves a handled message out of the way. A message that another client already removed is
    /// fine (its outcome is recorded); any other failure is thrown, so that the UID is not marked
    /// processed and the move is tried again on the next pass (the dedupe prevents a second decision).
    func moveAside(_ uid: UInt32, to folder: String) async throws {
        do {
            _ = try await mailbox.move(uids: [uid], to: folder, createIfMissing: true)
        } catch {
            let text = (error.serverText ?? error.message).uppercased()
            guard error.kind == .serverRejected, text.contains("EXPUNGEISSUED") || text.contains("NONEXISTENT") else { throw error }
            logger.notice("inbox: message \(uid) disappeared before it could be moved to \(folder): \(error.message)")
        }
    }
}
