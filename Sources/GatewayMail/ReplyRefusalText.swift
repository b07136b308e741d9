import Foundation
import GatewayApp
import GatewayCore
import MailMessage

/// The words of a reply refusal: why a verified reviewer's reply changed nothing. The service
/// records the reason as a code; only the email says it in words.
enum ReplyRefusalText {
    /// A short, plain explanation for `code` (a ``DecisionRefusal/Code`` or ``InboundRejection``),
    /// with the facts the service recorded (`state`, `decided_by`, `expired_at`).
    static func explain(_ code: String, context: [String: String], resource: String?) -> String {
        let resource = resource ?? "this resource"
        if InboundRejection(rawValue: code) == .notUnderstood {
            switch context["why"] {
            case NoCommandReason.question.description?:
                return "its first line reads as a question, so nothing was decided. When you are sure, reply with \"approve\" or \"deny\" on the first line."
            case NoCommandReason.bothCommands.description?:
                return "its first line names both approve and deny, so nothing was decided. Reply with one of them on the first line."
            default:
                return "its first line is not \"approve\" or \"deny\", so it was not understood."
            }
        }
        switch DecisionRefusal.Code(rawValue: code) {
        case .notPending?:
            switch context["state"].flatMap(RequestState.init(rawValue:)) {
            case .approved?, .denied?:
                return "it was already \(context["state"]!) by \(context["decided_by"] ?? "someone else")."
            case .expired?: return "it expired before a decision was made."
            case .cancelled?: return "the requester withdrew it."
            default: return "it is no longer waiting for a decision."
            }
        case .pastDeadline?:
            if let expired = context["expired_at"].flatMap(RFC3339.date(from:)) {
                return "the request expired at \(NotificationRenderer.humanDate(expired)); nothing can be decided any more."
            }
            return "it expired before a decision was made."
        case .notAllowed?: return "you are not (or no longer) allowed to decide requests for \(resource)."
        case .selfDecision?: return "you cannot decide your own request."
        case .channelDisabled?: return "decisions by email reply are switched off for \(resource); use a link in the notification instead."
        case .unknownReviewer?: return "you are not (or no longer) a user of the gateway."
        case .unknownRequest?: return "the request no longer exists."
        case .tokenUsed?: return "this reply address was already used for a decision."
        case .durationNotAllowed?:
            return "you may grant less time than was asked, never more (and no time at all on an unlock request). Reply \"approve\" for the time asked, or a shorter one such as \"approve 1h\"."
        case .alreadyApproved?:
            let counted = context["approvals"].map { " (\($0) of \(context["approvals_required"] ?? "?") approvals so far)" } ?? ""
            return "you already approved this request\(counted), and one reviewer counts once. It needs another reviewer's approval; nothing more is needed from you."
        case .signInRequired?, .wrongSession?, .tokenMismatch?, .wrongCode?, .codeLocked?, .forbidden?, nil:
            return "it could not be accepted."
        }
    }
}
