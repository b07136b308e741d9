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
        /// A backlog is handled in groups: up to this many messages are fetched in one command,
        /// decided in one transaction and moved with one command per folder.
        public var batchSize: Int
        /// The most message bytes fetched at once (a group ends before it would pass this; a single
        /// larger message, up to ``maxMessageBytes``, still forms a group of its own).
        public var batchBytes: Int

        public init(processedFolder: String, rejectedFolder: String, pollInterval: Duration, maxMessageBytes: Int, batchSize: Int = 100, batchBytes: Int = 8 << 20) {
            self.processedFolder = processedFolder
            self.rejectedFolder = rejectedFolder
            self.pollInterval = pollInterval
            self.maxMessageBytes = maxMessageBytes
            self.batchSize = max(1, batchSize)
            self.batchBytes = batchBytes
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

    /// Looks at every message after the last processed UID, in order, a group at a time
    /// (``Policy/batchSize``, ``Policy/batchBytes``): one FETCH, one transaction, one MOVE per
    /// folder, then the stored cursor. A crash anywhere in a group leaves the cursor before it; the
    /// next pass sees the group again and the Message-ID dedupe moves what was decided (IMAP-3).
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
        for group in Self.groups(summaries, policy: policy) {
            try await handle(group, uidValidity: status.uidValidity)
            try await service.saveMailboxCursor(name, MailboxCursor(uidValidity: status.uidValidity, lastUID: group[group.count - 1].uid))
        }
        return summaries.count
    }

    /// Consecutive groups of at most `batchSize` messages and, unless one message alone is larger,
    /// `batchBytes` of the messages that will be downloaded.
    public static func groups(_ summaries: [MessageSummary], policy: Policy) -> [[MessageSummary]] {
        var groups: [[MessageSummary]] = []
        var current: [MessageSummary] = []
        var bytes = 0
        for summary in summaries {
            let size = summary.size > policy.maxMessageBytes ? 0 : summary.size
            if !current.isEmpty, current.count >= policy.batchSize || bytes + size > policy.batchBytes {
                groups.append(current)
                current = []
                bytes = 0
            }
            current.append(summary)
            bytes += size
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// Fetches, decides and moves one group. If its transaction fails, its messages are handled one
    /// by one, each committed and moved before the next, so that one bad message is isolated.
    func handle(_ group: [MessageSummary], uidValidity: UInt32) async throws {
        let name = mailbox.configuration.mailbox
        let downloaded = try await mailbox.fetchRaw(uids: group.filter { $0.size <= policy.maxMessageBytes }.map(\.uid))
        var mails: [InboundMail] = []
        for summary in group {
            if summary.size > policy.maxMessageBytes {
                // IMAP-4: not downloaded.
                mails.append(InboundMail(
                    key: "oversize:\(name):\(uidValidity):\(summary.uid)", messageID: nil, mailbox: name, uidValidity: uidValidity, uid: summary.uid,
                    content: .rejected(.tooLarge), evidence: ["size": "\(summary.size) bytes, over imap.max_message_bytes (\(policy.maxMessageBytes))"]
                ))
            } else if let raw = downloaded[summary.uid] {
                mails.append(verifier.read(raw: raw, mailbox: name, uidValidity: uidValidity, uid: summary.uid))
            }
            // Otherwise another client removed it since the search: nothing to do.
        }
        guard !mails.isEmpty else { return }
        let results: [InboxResult]
        do {
            results = try await service.handleInbound(batch: mails)
        } catch {
            guard mails.count > 1 else { throw error }
            logger.warning("inbox: a group of \(mails.count) messages could not be committed (\(error)); handling them one by one")
            for mail in mails {
                let result = try await service.handleInbound(mail)
                log(result, of: mail)
                try await moveAside([mail.uid], to: folder(for: result))
            }
            return
        }
        var destinations: [String: [UInt32]] = [:]
        for (mail, result) in zip(mails, results) {
            log(result, of: mail)
            destinations[folder(for: result), default: []].append(mail.uid)
        }
        // IMAP-3: only after the commit.
        for (destination, uids) in destinations.sorted(by: { $0.key < $1.key }) {
            try await moveAside(uids, to: destination)
        }
    }

    func folder(for result: InboxResult) -> String {
        result.outcome.disposition == .decided ? policy.processedFolder : policy.rejectedFolder
    }

    func log(_ result: InboxResult, of mail: InboundMail) {
        let metadata: Logger.Metadata = ["message_id": "\(mail.messageID ?? "")", "uid": "\(mail.uid)"]
        if result.isDuplicate {
            logger.info("inbox: message \(mail.uid) was already processed (\(result.outcome)); nothing more is done", metadata: metadata)
        } else if case .decided = result.outcome, let request = result.request {
            logger.info("inbox: request \(request.id) \(request.state.rawValue) by \(request.decision?.reviewer ?? "?") by reply", metadata: metadata)
        } else if case .approvalCounted = result.outcome, let request = result.request {
            logger.info("inbox: request \(request.id) approved by reply: \(request.approvalCount) of \(request.approvalsRequired) approvals", metadata: metadata)
        } else {
            logger.info("inbox: message \(mail.uid) changed nothing: \(result.outcome)\(result.answered ? " (answered)" : "")", metadata: metadata)
        }
    }

    /// Moves handled messages out of the way, all in one command. Messages that another client
    /// already removed are fine (their outcome is recorded): when the server refuses the set for
    /// that reason, each is moved on its own. Any other failure is thrown, so that the cursor does
    /// not pass them and the move is tried again on the next pass (the dedupe prevents a second decision).
    func moveAside(_ uids: [UInt32], to folder: String) async throws {
        do {
            _ = try await mailbox.move(uids: uids, to: folder, createIfMissing: true)
        } catch {
            let text = (error.serverText ?? error.message).uppercased()
            guard error.kind == .serverRejected, text.contains("EXPUNGEISSUED") || text.contains("NONEXISTENT") else { throw error }
            guard uids.count > 1 else {
                logger.notice("inbox: message \(uids[0]) disappeared before it could be moved to \(folder): \(error.message)")
                return
            }
            for uid in uids { try await moveAside([uid], to: folder) }
        }
    }
}
