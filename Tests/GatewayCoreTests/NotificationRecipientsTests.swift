import Foundation
import Testing
@testable import GatewayCore

@Suite struct NotificationRecipientsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let users = [
        User(email: "admin@example.test", name: "Ada", role: .admin),
        User(email: "devops@example.test", name: "Dev", role: .devops),
        User(email: "reviewer@example.test", name: "Rev", role: .accessReviewer),
        User(email: "support@example.test", name: "Sup", role: .support),
        User(email: "approver1@example.test", name: "A1"),
        User(email: "approver2@example.test", name: "A2"),
        User(email: "gone@example.test", name: "Gone", isActive: false),
        User(email: "requester@example.test", name: "Req"),
    ]
    let groups = [
        Group(name: "db-approvers", members: ["approver1@example.test", "approver2@example.test", "admin@example.test", "gone@example.test", "requester@example.test"]),
        Group(name: "other", members: ["support@example.test"]),
    ]
    let resource = Resource(name: "prod-db", approverGroups: ["db-approvers"])

    var request: AccessRequest {
        AccessRequest(id: 1, kind: .jit, requester: "requester@example.test", resource: "prod-db", reason: "x", durationSeconds: 3600, state: .pending, createdAt: now, expiresAt: now.addingTimeInterval(60))
    }

    @Test("New requests: approvers always, admin roles by preference, never the requester, once each")
    func newRequest() {
        let preferences = ["devops@example.test": NotificationPreferences(newRequests: false, outcomes: true),
                           "admin@example.test": NotificationPreferences(newRequests: false, outcomes: false)]
        let recipients = NotificationRecipients.forNewRequest(request, resource: resource, users: users, groups: groups, preferences: preferences)
        #expect(recipients.map(\.email) == ["admin@example.test", "approver1@example.test", "approver2@example.test", "reviewer@example.test"])
        // admin turned new requests off but is an approver through the group: approvers cannot opt out.
        #expect(recipients.first { $0.email == "admin@example.test" }?.reason == "group:db-approvers")
        #expect(recipients.first { $0.email == "reviewer@example.test" }?.reason == "role:access_reviewer")
    }

    @Test("An admin who is the requester is not asked to approve")
    func adminRequester() {
        var request = self.request
        request.requester = "admin@example.test"
        let recipients = NotificationRecipients.forNewRequest(request, resource: resource, users: users, groups: groups, preferences: [:])
        #expect(!recipients.contains { $0.email == "admin@example.test" })
        #expect(recipients.contains { $0.email == "requester@example.test" })
    }

    @Test("Outcomes: the requester, the notified except the decider, admins who want outcomes")
    func outcome() {
        var decided = request
        decided.state = .approved
        let recipients = NotificationRecipients.forOutcome(
            decided, notified: ["approver1@example.test", "approver2@example.test", "gone@example.test"], decidedBy: "approver1@example.test",
            users: users, preferences: ["devops@example.test": NotificationPreferences(newRequests: false, outcomes: true)]
        )
        #expect(recipients.map(\.email) == ["approver2@example.test", "devops@example.test", "requester@example.test"])
        #expect(recipients.map(\.reason) == ["notified", "role:devops", "requester"])
    }
}

@Suite struct EmailAddressTests {
    @Test("normalize trims and lowercases, and leaves a normalised address as it is", arguments: [
        ("ann@example.test", "ann@example.test"), ("  Ann@Example.TEST\n", "ann@example.test"), ("ANN@EXAMPLE.TEST", "ann@example.test"),
        ("\tann@example.test", "ann@example.test"), ("ann@example.test ", "ann@example.test"), ("Ünal@example.test", "ünal@example.test"),
        ("\u{00A0}ann@example.test", "ann@example.test"), ("", ""),
    ])
    func normalize(input: String, expected: String) {
        #expect(EmailAddress.normalize(input) == expected)
    }
}
