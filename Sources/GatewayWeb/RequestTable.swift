import Foundation
import GatewayCore
import GatewayTemplates

/// One row of the request table: a request as a reviewer sees it, and what they may do with it.
struct RequestTableRow: Sendable {
    /// What the last cell offers the viewer.
    enum Action: Sendable {
        case none
        /// Under a quorum, the viewer already approved: they wait for another reviewer.
        case youApproved
        /// Approve and Deny, posting to `path` with a CSRF token, back to `returnTo`.
        case decide(path: String, csrf: String, returnTo: String, grantChoices: [GrantChoice])
        /// The requester's own open request: Cancel, posting to `path` with a CSRF token.
        case cancel(path: String, csrf: String)
    }

    /// A shorter grant a reviewer may choose (`value` empty for the time asked).
    struct GrantChoice: Sendable, Hashable {
        var value: String
        var label: String
    }

    var request: AccessRequest
    var requesterName: String
    var deciderName: String?
    var action: Action = .none
}

/// The request table of the Access Requests, user, resource and My requests pages, rendered in
/// code.
///
/// A page lists up to a page of requests with a dozen values and a form each. Rendered through the
/// template engine, the table was most of the page's CPU: every value is looked up by name through
/// the context stack with dynamic casts. Here each value is written once, HTML-escaped, in the same
/// markup the stylesheet and the browser tests know (`table.requests`, `tr[data-request]`,
/// `form.row-decide`).
enum RequestTable {
    /// The table of `rows`; without the Requester column on a requester's own list.
    static func html(_ rows: [RequestTableRow], showsRequester: Bool = true, now: Date) -> String {
        var out = HTMLWriter(capacity: 600 + rows.count * 900)
        out.markup("<table class=\"requests\">\n<thead><tr><th>#</th>")
        if showsRequester { out.markup("<th>Requester</th>") }
        out.markup("<th>Resource</th><th>Duration</th><th>Reason</th><th>Requested</th><th>Deadline</th><th>State</th><th></th></tr></thead>\n<tbody>\n")
        for row in rows { write(row, showsRequester: showsRequester, now: now, to: &out) }
        out.markup("</tbody>\n</table>\n")
        return out.text
    }

    private static func write(_ row: RequestTableRow, showsRequester: Bool, now: Date, to out: inout HTMLWriter) {
        let request = row.request
        let id = String(request.id)
        let state = WebFormat.displayState(request, now: now)
        out.markup("<tr data-request=\"")
        out.raw(id)
        out.markup("\">\n  <td><a href=\"/requests/")
        out.raw(id)
        out.markup("\">")
        out.raw(id)
        out.markup("</a></td>\n  <td>")
        if showsRequester {
            out.text(row.requesterName)
            out.markup("<br><span class=\"muted\">")
            out.text(request.requester)
            out.markup("</span></td>\n  <td>")
        }
        out.text(request.resource)
        out.markup("</td>\n  <td>")
        out.text(request.kind == .unlock ? "unlock" : WebFormat.duration(request.durationSeconds))
        out.markup("</td>\n  <td class=\"reason\">")
        out.text(request.reason)
        out.markup("</td>\n  <td>")
        out.date(request.createdAt)
        out.markup("</td>\n  <td>")
        out.date(request.expiresAt)
        out.markup("</td>\n  <td><span class=\"state state-")
        out.raw(state)
        out.markup("\">")
        out.raw(state)
        out.markup("</span>")
        if let decision = request.decision {
            out.markup("<br><span class=\"muted\">by ")
            out.text(row.deciderName ?? decision.reviewer)
            out.markup("</span>")
        }
        if request.needsSeveralApprovals, request.state == .pending {
            out.markup("<br><span class=\"approvals\" title=\"approvals so far\">")
            out.raw(String(request.approvalCount))
            out.markup(" of ")
            out.raw(String(request.approvalsRequired))
            out.markup(" approvals</span>")
        }
        if request.escalatedAt != nil { out.markup("<br><span class=\"muted\">escalated</span>") }
        out.markup("</td>\n  <td>")
        switch row.action {
        case .none:
            break
        case .youApproved:
            out.markup("<span class=\"you-approved\">You approved; waiting for another reviewer</span>")
        case .decide(let path, let csrf, let returnTo, let choices):
            out.markup("\n<form method=\"post\" action=\"")
            out.text(path)
            out.markup("\" class=\"row-decide\">\n  <input type=\"hidden\" name=\"csrf\" value=\"")
            out.text(csrf)
            out.markup("\">\n  <input type=\"hidden\" name=\"return_to\" value=\"")
            out.text(returnTo)
            out.markup("\">\n  <input name=\"comment\" placeholder=\"Comment (optional)\" maxlength=\"2000\" aria-label=\"Comment for request ")
            out.raw(id)
            out.markup("\">\n  ")
            if !choices.isEmpty {
                out.markup("<select name=\"duration\" aria-label=\"How long to grant request ")
                out.raw(id)
                out.markup("\">")
                for choice in choices {
                    out.markup("<option value=\"")
                    out.text(choice.value)
                    out.markup("\">")
                    out.text(choice.label)
                    out.markup("</option>")
                }
                out.markup("</select>")
            }
            out.markup("\n  <button type=\"submit\" name=\"action\" value=\"approve\" class=\"approve\">Approve</button>\n  <button type=\"submit\" name=\"action\" value=\"deny\" class=\"deny\">Deny</button>\n</form>\n")
        case .cancel(let path, let csrf):
            out.markup("<form method=\"post\" action=\"")
            out.text(path)
            out.markup("\"><input type=\"hidden\" name=\"csrf\" value=\"")
            out.text(csrf)
            out.markup("\"><button type=\"submit\" class=\"deny\">Cancel</button></form>")
        }
        out.markup("</td>\n</tr>\n")
    }
}
