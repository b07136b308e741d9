import ApprovalTokens
import Foundation
import GatewayCore

extension ApprovalService {
    /// Handles one message from the gateway's mailbox in one transaction: the dedupe (IMAP-1,
    /// IMAP-2), the reply key and the thread, the sender (REPLY-2), the receiving server's verdict
    /// (REPLY-3, REPLY-4), reply-key expiry, the command (REPLY-6), the decision, the answer to the
    /// verified reviewer within the answer limits (LOOP-3, LOOP-4), the record and its audit entry.
    ///
    /// The caller moves the message only after this returns (IMAP-3).
    public func handleInbound(_ mail: InboundMail) async throws -> InboxResult {
        let now = self.now
        return try await storage.write { [self] tx in try handleInbound(mail, in: tx, now: now) }
    }

    /// Handles several messages in one transaction, in order, each exactly as
    /// ``handleInbound(_:)`` would (a later message sees what an earlier one changed: a duplicate
    /// Message-ID, a decided request, the answers already counted). One commit for the group is
    /// what makes a backlog fast; if the group fails, nothing of it is kept and the caller handles
    /// its messages one by one, so that one bad message cannot hold the others back.
    public func handleInbound(batch mails: [InboundMail]) async throws -> [InboxResult] {
        guard !mails.isEmpty else { return [] }
        let now = self.now
        return try await storage.write { [self] tx in try mails.map { try handleInbound($0, in: tx, now: now) } }
    }

    func handleInbound(_ mail: InboundMail, in tx: any StoreTransaction, now: Date) throws -> InboxResult {
        if let first = try tx.inboundOutcome(key: mail.key) {
            return InboxResult(outcome: first, isDuplicate: true, answered: false, request: nil)
        }
        var record = InboundRecord(
            key: mail.key, messageID: mail.messageID, mailbox: mail.mailbox, uidValidity: mail.uidValidity, uid: mail.uid,
            sender: nil, requestID: nil, reviewer: nil, outcome: .ignored, evidence: mail.evidence
        )
        var answer: PendingAnswer?
        var decided: AccessRequest?

        switch mail.content {
        case .automated(let reason):
            record.evidence["automated"] = reason
            record.outcome = .ignored
        case .rejected(let rejection):
            record.outcome = .rejected(rejection)
        case .bounce(let report):
            // LOOP-5: the email is marked bounced; a bounce is never answered.
            if let entry = try tx.outboxEntry(id: report.outboxID) {
                try tx.markOutboxBounced(id: entry.id, reason: report.summary, now: now)
                record.requestID = entry.requestID
                record.evidence["bounced_recipient"] = entry.recipient
            }
            record.evidence["status"] = report.status
            if let diagnostic = report.diagnostic { record.evidence["diagnostic"] = String(diagnostic.prefix(300)) }
            record.outcome = .bounced(outboxID: report.outboxID)
        case .reply(let claim):
            if case .mailbox(let sender) = claim.sender { record.sender = sender }
            let verdict = try judgeReply(claim, record: &record, in: tx, now: now)
            record.outcome = verdict.outcome
            answer = verdict.answer
            decided = verdict.request
        }

        var answered = false
        if let answer, try mayAnswer(answer, in: tx, now: now) {
            try tx.enqueue(answer.kind, requestID: answer.requestID, recipient: NotificationRecipient(email: answer.reviewer, reason: "reviewer"), context: answer.context, now: now)
            try tx.recordAnswer(to: answer.reviewer, requestID: answer.requestID, kind: answer.kind, now: now)
            answered = true
        }
        try tx.insertInbound(record, now: now)
        var detail = record.evidence
        detail["message_id"] = record.messageID ?? "(none)"
        detail["answered"] = String(answered)
        if let sender = record.sender { detail["from"] = sender }
        try tx.audit(
            .inbound, record.outcome.disposition, actor: record.reviewer ?? record.sender, requestID: record.requestID,
            channel: .reply, reason: record.outcome.reason, detail: detail, at: now
        )
        return InboxResult(outcome: record.outcome, isDuplicate: false, answered: answered, request: decided)
    }

    /// An answer to a verified reviewer, waiting for the answer limits.
    struct PendingAnswer {
        var kind: NotificationKind
        var reviewer: String
        var requestID: Int64
        var context: [String: String]
    }

    struct ReplyJudgement {
        var outcome: InboxOutcome
        var answer: PendingAnswer?
        var request: AccessRequest?
    }

    func judgeReply(_ claim: ReplyClaim, record: inout InboundRecord, in tx: any StoreTransaction, now: Date) throws -> ReplyJudgement {
        // Which request and reviewer: the reply key, else a notification in the thread.
        let requestID: Int64
        let reviewer: User
        let keyExpiry: Date
        switch claim.token {
        case .key(let key, let digest):
            guard let user = try tx.user(id: key.reviewerID), user.isActive else {
                record.requestID = key.requestID
                return ReplyJudgement(outcome: .rejected(.reviewerUnknown))
            }
            requestID = key.requestID
            reviewer = user
            keyExpiry = key.expiresAt
            record.evidence["reply_key_sha256"] = digest
            record.evidence["token_source"] = "address"
        case .thread(let messageIDs):
            var found: (Int64, User, Date)?
            for id in messageIDs {
                guard let entry = try tx.outboxEntry(messageID: id), NotificationKind.decisionInvitations.contains(entry.kind),
                      let id = entry.requestID, let request = try tx.request(id: id),
                      let user = try tx.user(email: entry.recipient), user.isActive else { continue }
                found = (id, user, request.expiresAt)
                break
            }
            guard let (id, user, expiry) = found else { return ReplyJudgement(outcome: .rejected(.noToken)) }
            requestID = id
            reviewer = user
            keyExpiry = expiry
            record.evidence["token"] = "notification Message-ID of request \(id)"
            record.evidence["token_source"] = "thread"
        }
        record.requestID = requestID
        record.reviewer = reviewer.email

        // REPLY-2, REPLY-5: exactly one From mailbox, the key's reviewer.
        switch claim.sender {
        case .unclear(let why):
            record.evidence["from"] = "rejected: \(why)"
            return ReplyJudgement(outcome: .rejected(.senderUnclear))
        case .mailbox(let sender) where sender != reviewer.email:
            record.evidence["from"] = "mismatch: \(sender) is not the key's reviewer"
            return ReplyJudgement(outcome: .rejected(.senderMismatch))
        case .mailbox:
            record.evidence["from"] = "match"
        }
        // REPLY-3, REPLY-4: the receiving server vouches for the sending domain.
        switch claim.authentication {
        case .passed(let verdict): record.evidence["authentication"] = verdict
        case .notRequired: record.evidence["authentication"] = "not checked (reply.require_authentication is false)"
        case .failed(let verdict):
            record.evidence["authentication"] = verdict
            return ReplyJudgement(outcome: .rejected(.notAuthenticated))
        case .notConfigured:
            record.evidence["authentication"] = "not configured: set reply.trusted_authserv_id, or reply.require_authentication: false"
            return ReplyJudgement(outcome: .rejected(.authenticationNotConfigured))
        }

        // The reviewer is verified from here on: they may be answered.
        func refusal(_ code: DecisionRefusal.Code, _ extra: [String: String] = [:]) -> PendingAnswer {
            PendingAnswer(kind: .replyRefusal, reviewer: reviewer.email, requestID: requestID, context: extra.merging(["refusal_code": code.rawValue]) { a, _ in a })
        }
        guard now < keyExpiry else {
            record.evidence["token"] = "expired"
            return ReplyJudgement(outcome: .refused(.pastDeadline), answer: refusal(.pastDeadline, ["expired_at": RFC3339.string(from: keyExpiry)]))
        }
        let action: DecisionAction
        let comment: String?
        let grantSeconds: Int?
        switch claim.command {
        case .notUnderstood(let why):
            record.evidence["grammar"] = "none: \(why)"
            let answer = PendingAnswer(kind: .replyRefusal, reviewer: reviewer.email, requestID: requestID, context: ["refusal_code": InboundRejection.notUnderstood.rawValue, "show_grammar": "true", "why": why])
            return ReplyJudgement(outcome: .rejected(.notUnderstood), answer: answer)
        case .command(let command, let text, let seconds):
            record.evidence["grammar"] = command.rawValue
            action = command
            comment = text
            grantSeconds = seconds
        }
        var evidence = ["message_id": record.messageID ?? "(none)", "authentication": record.evidence["authentication"] ?? ""]
        for key in ["reply_key_sha256", "token_source"] { evidence[key] = record.evidence[key] }
        let attempt = ResolvedAttempt(
            requestID: requestID, reviewer: reviewer.email, action: action, channel: .reply, comment: comment, evidence: evidence,
            grantSeconds: grantSeconds
        )
        switch try judge(attempt, in: tx, now: now) {
        case .decided(let request, _, _):
            var context = ["outcome": request.state.rawValue]
            if let comment = request.decision?.comment { context["comment"] = comment }
            let answer = PendingAnswer(kind: .replyConfirmation, reviewer: reviewer.email, requestID: requestID, context: context)
            return ReplyJudgement(outcome: .decided(action), answer: answer, request: request)
        case .approvalRecorded(let request, _):
            let context = [
                "outcome": "approved", "partial": "true",
                "approvals": String(request.approvalCount), "approvals_required": String(request.approvalsRequired),
            ]
            let answer = PendingAnswer(kind: .replyConfirmation, reviewer: reviewer.email, requestID: requestID, context: context)
            return ReplyJudgement(outcome: .approvalCounted, answer: answer, request: request)
        case .refused(let refused, let request):
            var context: [String: String] = [:]
            if let state = request?.state { context["state"] = state.rawValue }
            if let decidedBy = request?.decision?.reviewer { context["decided_by"] = decidedBy }
            if refused.code == .alreadyApproved, let request {
                context["approvals"] = String(request.approvalCount)
                context["approvals_required"] = String(request.approvalsRequired)
            }
            return ReplyJudgement(outcome: .refused(refused.code), answer: refusal(refused.code, context))
        }
    }

    /// LOOP-3, LOOP-4: a few answers per reviewer per hour, and a bounded number of refusals per
    /// reviewer and request.
    func mayAnswer(_ answer: PendingAnswer, in tx: any StoreTransaction, now: Date) throws -> Bool {
        let limits = settings.answerLimits
        let lastHour = try tx.answerCount(to: answer.reviewer, kinds: [.replyConfirmation, .replyRefusal], requestID: nil, since: now.addingTimeInterval(-3600))
        guard lastHour < limits.perReviewerPerHour else { return false }
        if answer.kind == .replyRefusal {
            let earlier = try tx.answerCount(to: answer.reviewer, kinds: [.replyRefusal], requestID: answer.requestID, since: nil)
            guard earlier < limits.refusalsPerReviewerAndRequest else { return false }
        }
        return true
    }

    // MARK: The inbox's place in its mailbox

    public func mailboxCursor(_ mailbox: String) async throws -> MailboxCursor? { try await storage.mailboxCursor(mailbox) }
    public func saveMailboxCursor(_ mailbox: String, _ cursor: MailboxCursor) async throws { try await storage.saveMailboxCursor(mailbox, cursor) }
}
