import Foundation
import GatewayCore
import Testing
@testable import GatewayWeb

/// The request table rendered in code: every value escaped, the markup the pages and the browser
/// tests rely on, and each row's action.
@Suite struct RequestTableTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func request(_ id: Int64, reason: String = "incident", state: RequestState = .pending, decision: Decision? = nil, approvals: (Int, Int) = (0, 1)) -> AccessRequest {
        AccessRequest(
            id: id, kind: .jit, requester: "rita@example.test", resource: "prod-db", reason: reason, durationSeconds: 14_400,
            state: state, createdAt: now.addingTimeInterval(-60), expiresAt: now.addingTimeInterval(3600),
            decision: decision, approvalCount: approvals.0, approvalsRequired: approvals.1
        )
    }

    @Test("LINK-11: every value from a person is HTML-escaped (a reason cannot inject markup)")
    func escapesValues() {
        let row = RequestTableRow(request: request(1, reason: "<script>alert('x')</script> & \"more\""), requesterName: "Rita <Requester>")
        let html = RequestTable.html([row], now: now)
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"))
        #expect(html.contains("Rita &lt;Requester&gt;"))
    }

    @Test("LINK-11: a select's options are escaped; only the chosen one is marked selected")
    func selectOptions() {
        let html = HTMLWriter.options([("", "all"), ("prod-db", "prod-db"), ("a\"b", "<b>")], selected: "prod-db")
        #expect(html == "<option value=\"\">all</option><option value=\"prod-db\" selected>prod-db</option><option value=\"a&quot;b\">&lt;b&gt;</option>")
        #expect(!HTMLWriter.options([("x", "x")], selected: "y").contains("selected"))
    }

    @Test("Rows carry data-request, the link, the state class; a decider's name; 1 of 2 under a quorum")
    func rowMarkup() {
        let decided = request(2, state: .approved, decision: Decision(reviewer: "ann@example.test", action: .approve, decidedAt: now, channel: .reply, comment: nil))
        let html = RequestTable.html([
            RequestTableRow(request: decided, requesterName: "Rita", deciderName: "Ann Approver"),
            RequestTableRow(request: request(3, approvals: (1, 2)), requesterName: "Rita"),
        ], now: now)
        #expect(html.contains("<tr data-request=\"2\">"))
        #expect(html.contains("<a href=\"/requests/2\">2</a>"))
        #expect(html.contains("<span class=\"state state-approved\">approved</span><br><span class=\"muted\">by Ann Approver</span>"))
        #expect(html.contains("1 of 2 approvals"))
        #expect(html.contains("<th>Requester</th>"))
    }

    @Test("The decide form posts with its CSRF token, return path and shorter grants; Cancel on one's own list, without the Requester column")
    func actions() {
        var decide = RequestTableRow(request: request(4), requesterName: "Rita")
        decide.action = .decide(path: "/requests/4/decision", csrf: "tok&en", returnTo: "/requests?state=open&resource=a", grantChoices: [.init(value: "1h", label: "for 1 hour only")])
        var waiting = RequestTableRow(request: request(5, approvals: (1, 2)), requesterName: "Rita")
        waiting.action = .youApproved
        let html = RequestTable.html([decide, waiting], now: now)
        #expect(html.contains("<form method=\"post\" action=\"/requests/4/decision\" class=\"row-decide\">"))
        #expect(html.contains("name=\"csrf\" value=\"tok&amp;en\""))
        #expect(html.contains("name=\"return_to\" value=\"/requests?state=open&amp;resource=a\""))
        #expect(html.contains("<option value=\"1h\">for 1 hour only</option>"))
        #expect(html.contains("value=\"approve\"") && html.contains("value=\"deny\""))
        #expect(html.contains("You approved; waiting for another reviewer"))

        var own = RequestTableRow(request: request(6), requesterName: "Rita")
        own.action = .cancel(path: "/my-requests/6/cancel", csrf: "t")
        let mine = RequestTable.html([own], showsRequester: false, now: now)
        #expect(!mine.contains("<th>Requester</th>") && !mine.contains("rita@example.test"))
        #expect(mine.contains("<form method=\"post\" action=\"/my-requests/6/cancel\"><input type=\"hidden\" name=\"csrf\" value=\"t\"><button type=\"submit\" class=\"deny\">Cancel</button></form>"))
    }
}
