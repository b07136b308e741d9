import Foundation
import GatewayCore
import Logging
import MailTransport
import ServiceLifecycle

/// The inbox processor: picks up replies from the gateway's mailbox (IDLE when the server offers it,
/// polling otherwise or as a fallback), judges each with ``ReplyVerifier``, decides through the one
/// decision function, answers the verified reviewer, and only after the commit moves the message
/// to the processed or rejected folder (IMAP-3).
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
        public var answerLimits: AnswerLimits

        public init(processedFolder: String, rejectedFolder: String, pollInterval: Duration, maxMessageBytes: Int, answerLimits: AnswerLimits = AnswerLimits()) {
            self.processedFolder = processedFolder
            self.rejectedFolder = rejectedFolder
            self.pollInterval = pollInterval
            self.maxMessageBytes = maxMessageBytes
            self.answerLimits = answerLimits
        }
    }

    let mailbox: IMAPMailbox
    let verifier: ReplyVerifier
    let store: any AccessStore & InboxStore
    let policy: Policy
    let clock: any GatewayClock
    let logger: Logger

    public init(mailbox: IMAPMailbox, verifier: ReplyVerifier, store: any AccessStore & InboxStore, policy: Policy, clock: any GatewayClock = SystemClock(), logger: Logger) {
        self.mailbox = mailbox
        self.verifier = verifier
        self.store = store
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        logger.info("inbox processor watching \(mailbox.configuration.username) \(mailbox.configuration.mailbox)")
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
        await mailbox.close()
        logger.info("inbox processor stopped")
    }

    /// Looks at every message after the last processed UID, in order.
    /// - Returns: how many messages were handled.
    @discardableResult
    public func processNewMessages() async throws -> Int {
        let status = try await mailbox.select()
        let name = mailbox.configuration.mailbox
        var lastUID: UInt32 = 0
        if let stored = try await store.mailboxState(name) {
            if stored.uidValidity == status.uidValidity {
                lastUID = stored.lastUID
            } else {
                logger.warning("inbox: UIDVALIDITY of \(name) changed from \(stored.uidValidity) to \(status.uidValidity); looking at every message again (already processed ones are recognised by Message-ID)")
                try await store.saveMailboxState(name, uidValidity: status.uidValidity, lastUID: 0)
            }
        }
        let uids = try await mailbox.uidsAfter(lastUID)
        guard !uids.isEmpty else { return 0 }
        let summaries = try await mailbox.summaries(uids: uids).sorted { $0.uid < $1.uid }
        for summary in summaries {
            try await handle(summary, uidValidity: status.uidValidity)
            try await store.saveMailboxState(name, uidValidity: status.uidValidity, lastUID: summary.uid)
        }
        return summaries.count
    }

    func handle(_ summary: MessageSummary, uidValidity: UInt32) async throws {
        let name = mailbox.configuration.mailbox
        let now = clock.now
        if summary.size > policy.maxMessageBytes {
            // IMAP-4: not downloaded.
            let record = InboundMessage(
                key: "oversize:\(name):\(uidValidity):\(summary.uid)", messageID: nil, mailbox: name, uidValidity: uidValidity, uid: summary.uid,
                sender: nil, requestID: nil, reviewer: nil, outcome: "rejected", reason: "too_large",
                verdicts: ["size": "\(summary.size) bytes, over imap.max_message_bytes (\(policy.maxMessageBytes))"]
            )
            _ = try await store.recordInbound(record, attempt: nil, limits: policy.answerLimits, answer: { _ in nil }, now: now)
            try await moveAside(summary.uid, to: policy.rejectedFolder)
            logger.notice("inbox: message \(summary.uid) (\(summary.size) bytes) is too large and was moved to \(policy.rejectedFolder) without being read")
            return
        }
        guard let raw = try await mailbox.fetchRaw(uid: summary.uid) else { return }
        let verdict = try await verifier.verify(raw: raw, mailbox: name, uidValidity: uidValidity, uid: summary.uid, now: now)
        let answer = Self.answer(for: verdict)
        let result = try await store.recordInbound(verdict.record, attempt: verdict.attempt, limits: policy.answerLimits, answer: answer, now: now)
        let decided: Bool
        switch result {
        case .duplicate(let outcome, let reason):
            decided = outcome == "decided"
            logger.info("inbox: message \(summary.uid) was already processed (\(outcome) \(reason ?? "")); nothing more is done")
        case .recorded(let decision, let answered):
            if case .decided(let request, _, _) = decision {
                decided = true
                logger.info("inbox: request \(request.id) \(request.state.rawValue) by \(request.decision?.reviewer ?? "?") by reply", metadata: ["message_id": "\(verdict.record.messageID ?? "")"])
            } else {
                decided = false
                let reason: String
                if case .refused(let refusal, _) = decision { reason = refusal.code.rawValue } else { reason = verdict.record.reason ?? verdict.record.outcome }
                logger.info("inbox: message \(summary.uid) changed nothing: \(reason)\(answered ? " (answered)" : "")", metadata: ["message_id": "\(verdict.record.messageID ?? "")"])
            }
        }
        // IMAP-3: only after the commit.
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

    /// The answer for a verified reviewer, chosen inside the transaction from the decision's outcome.
    static func answer(for verdict: ReplyVerdict) -> @Sendable (DecisionOutcome?) -> ReplyAnswer? {
        let reviewer = verdict.verifiedReviewer
        let requestID = verdict.record.requestID
        let refusalText = verdict.refusalText
        let showGrammar = verdict.showGrammar
        return { outcome in
            guard let reviewer, let requestID else { return nil }
            switch outcome {
            case .decided(let request, _, _)?:
                var context = ["outcome": request.state == .approved ? "approved" : "denied"]
                if let comment = request.decision?.comment { context["comment"] = comment }
                return ReplyAnswer(kind: .replyConfirmation, recipient: reviewer, requestID: requestID, context: context)
            case .refused(let refusal, let request)?:
                return ReplyAnswer(kind: .replyRefusal, recipient: reviewer, requestID: requestID, context: ["refusal": explanation(refusal, request)])
            case nil:
                guard let refusalText else { return nil }
                var context = ["refusal": refusalText]
                if showGrammar { context["show_grammar"] = "true" }
                return ReplyAnswer(kind: .replyRefusal, recipient: reviewer, requestID: requestID, context: context)
            }
        }
    }

    /// A short, plain explanation of a refusal for the reviewer.
    static func explanation(_ refusal: DecisionRefusal, _ request: AccessRequest?) -> String {
        switch refusal.code {
        case .notPending:
            switch request?.state {
            case .approved?, .denied?:
                let who = request?.decision?.reviewer ?? "someone else"
                return "it was already \(request!.state.rawValue) by \(who)."
            case .expired?: return "it expired before a decision was made."
            case .cancelled?: return "the requester withdrew it."
            default: return "it is no longer waiting for a decision."
            }
        case .pastDeadline: return "it expired before a decision was made."
        case .notAllowed: return "you are not (or no longer) allowed to decide requests for \(request?.resource ?? "this resource")."
        case .selfDecision: return "you cannot decide your own request."
        case .channelDisabled: return "decisions by email reply are switched off for \(request?.resource ?? "this resource"); use a link in the notification instead."
        case .unknownReviewer: return "you are not (or no longer) a user of the gateway."
        case .unknownRequest: return "the request no longer exists."
        case .tokenUsed: return "this reply address was already used for a decision."
        }
    }
}
