import Foundation
import Testing
@testable import GatewayCore

/// The one decision function, judged on facts alone (AUTHZ-1, AUTHZ-2, AUTHZ-3, AUTHZ-5).
@Suite struct DecisionPolicyTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let resource = Resource(name: "prod-db", approverGroups: ["db-approvers", "dba-oncall"])

    static func request(state: RequestState = .pending, expiresIn: TimeInterval = 3600, decidedBy: String? = nil) -> AccessRequest {
        var request = AccessRequest(
            id: 7, kind: .jit, requester: "requester1@example.test", resource: "prod-db", reason: "incident",
            durationSeconds: 3600, state: state, createdAt: now.addingTimeInterval(-60),
            expiresAt: now.addingTimeInterval(expiresIn)
        )
        if let decidedBy {
            request.decision = Decision(reviewer: decidedBy, action: .approve, decidedAt: now, channel: .web, comment: nil)
        }
        return request
    }

    static func facts(
        reviewer: User?, groups: Set<String> = [], request: AccessRequest = request(),
        resource: Resource = resource, channel: DecisionChannel = .cli
    ) -> DecisionPolicy.Facts {
        DecisionPolicy.Facts(request: request, resource: resource, reviewer: reviewer, reviewerGroups: groups, channel: channel, now: now)
    }

    static func refusal(_ facts: DecisionPolicy.Facts) -> DecisionRefusal.Code? {
        do {
            _ = try DecisionPolicy.authorize(facts)
            return nil
        } catch {
            return error.code
        }
    }

    struct RoleCase: Sendable, CustomTestStringConvertible {
        var role: AdminRole
        var groups: Set<String>
        var expected: DecisionRefusal.Code?
        var testDescription: String { "\(role.rawValue) in \(groups.sorted()) → \(expected?.rawValue ?? "allowed")" }
    }

    @Test("AUTHZ-2: review rights come from an admin review role or an approver group", arguments: [
        RoleCase(role: .admin, groups: [], expected: nil),
        RoleCase(role: .devops, groups: [], expected: nil),
        RoleCase(role: .accessReviewer, groups: [], expected: nil),
        RoleCase(role: .support, groups: [], expected: .notAllowed),
        RoleCase(role: .member, groups: [], expected: .notAllowed),
        RoleCase(role: .member, groups: ["db-approvers"], expected: nil),
        RoleCase(role: .member, groups: ["dba-oncall"], expected: nil),
        RoleCase(role: .support, groups: ["db-approvers"], expected: nil),
        RoleCase(role: .member, groups: ["web-approvers"], expected: .notAllowed),
        RoleCase(role: .support, groups: ["web-approvers", "everyone"], expected: .notAllowed),
    ])
    func reviewRights(_ testCase: RoleCase) {
        let reviewer = User(email: "reviewer@example.test", name: "R", role: testCase.role)
        #expect(Self.refusal(Self.facts(reviewer: reviewer, groups: testCase.groups)) == testCase.expected)
    }

    @Test("The right that allowed a decision is reported for the audit log")
    func rightSnapshot() throws {
        let approver = User(email: "a@example.test", name: "A")
        #expect(try DecisionPolicy.authorize(Self.facts(reviewer: approver, groups: ["dba-oncall"])) == .approverGroup("dba-oncall"))
        let admin = User(email: "b@example.test", name: "B", role: .devops)
        #expect(try DecisionPolicy.authorize(Self.facts(reviewer: admin, groups: ["db-approvers"])) == .role(.devops))
    }

    @Test("AUTHZ-1: the requester never decides their own request, whatever their rights", arguments: AdminRole.allCases)
    func selfDecision(role: AdminRole) {
        let requester = User(email: "Requester1@Example.test", name: "Req", role: role)
        for channel in DecisionChannel.allCases {
            let facts = Self.facts(reviewer: requester, groups: ["db-approvers"], channel: channel)
            #expect(Self.refusal(facts) == .selfDecision)
        }
    }

    @Test("AUTHZ-3: only a pending request can be decided", arguments: [RequestState.approved, .denied, .expired, .cancelled])
    func notPending(state: RequestState) throws {
        let admin = User(email: "admin@example.test", name: "Ada", role: .admin)
        let request = Self.request(state: state, decidedBy: state == .approved ? "approver1@example.test" : nil)
        do {
            _ = try DecisionPolicy.authorize(Self.facts(reviewer: admin, request: request))
            Issue.record("a \(state) request was decided")
        } catch {
            #expect(error.code == .notPending)
            #expect(error.state == state)
            if state == .approved { #expect(error.decidedBy == "approver1@example.test") }
        }
    }

    @Test("AUTHZ-5: a pending request past its deadline is refused", arguments: [0.0, -1, -86_400])
    func pastDeadline(expiresIn: TimeInterval) {
        let admin = User(email: "admin@example.test", name: "Ada", role: .admin)
        #expect(Self.refusal(Self.facts(reviewer: admin, request: Self.request(expiresIn: expiresIn))) == .pastDeadline)
    }

    @Test("A request one second before its deadline can still be decided")
    func justBeforeDeadline() {
        let admin = User(email: "admin@example.test", name: "Ada", role: .admin)
        #expect(Self.refusal(Self.facts(reviewer: admin, request: Self.request(expiresIn: 1))) == nil)
    }

    @Test("Unknown or deactivated reviewers are refused")
    func unknownReviewer() {
        #expect(Self.refusal(Self.facts(reviewer: nil)) == .unknownReviewer)
        let gone = User(email: "admin@example.test", name: "Ada", role: .admin, isActive: false)
        #expect(Self.refusal(Self.facts(reviewer: gone)) == .unknownReviewer)
    }

    @Test("A resource can switch off reply or link decisions; other channels still work")
    func channelSwitches() {
        var resource = Self.resource
        resource.replyDecisionsEnabled = false
        resource.linkDecisionsEnabled = false
        let approver = User(email: "a@example.test", name: "A")
        for channel in DecisionChannel.allCases {
            let expected: DecisionRefusal.Code? = (channel == .reply || channel == .link) ? .channelDisabled : nil
            #expect(Self.refusal(Self.facts(reviewer: approver, groups: ["db-approvers"], resource: resource, channel: channel)) == expected)
        }
    }

    @Test("Rights are checked before state, so an outsider learns nothing about the request")
    func rightsBeforeState() {
        let outsider = User(email: "x@example.test", name: "X")
        #expect(Self.refusal(Self.facts(reviewer: outsider, request: Self.request(state: .approved))) == .notAllowed)
        #expect(Self.refusal(Self.facts(reviewer: outsider, request: Self.request(expiresIn: -5))) == .notAllowed)
    }

    @Test("Escalation groups review a request only once it was escalated; an approver group always does")
    func escalationRight() {
        let resource = Resource(name: "prod-db", approverGroups: ["dba"], escalateAfterSeconds: 3600, escalationGroups: ["leads"])
        let lead = User(email: "lead@example.test", name: "Lee")
        var request = Self.request()
        #expect(DecisionPolicy.reviewRight(of: lead, groups: ["leads"], for: resource, request: request) == nil)
        #expect(Self.refusal(Self.facts(reviewer: lead, groups: ["leads"], request: request, resource: resource)) == .notAllowed)
        request.escalatedAt = Self.now.addingTimeInterval(-10)
        #expect(DecisionPolicy.reviewRight(of: lead, groups: ["leads"], for: resource, request: request) == .escalationGroup("leads"))
        #expect(Self.refusal(Self.facts(reviewer: lead, groups: ["leads"], request: request, resource: resource)) == nil)
        let member = User(email: "a@example.test", name: "A")
        #expect(DecisionPolicy.reviewRight(of: member, groups: ["dba", "leads"], for: resource, request: request) == .approverGroup("dba"))
    }

    @Test("An earlier approval counts while its reviewer keeps a right; not once they left, were removed or are the requester")
    func standing() {
        let resource = Resource(name: "prod-db", approverGroups: ["dba"], approvalsRequired: 2)
        let request = Self.request()
        let approval = RecordedApproval(requestID: 7, reviewer: "a@example.test", channel: .reply, right: "group:dba", grantSeconds: nil, comment: nil, approvedAt: Self.now)
        let member = User(email: "a@example.test", name: "A")
        #expect(DecisionPolicy.standing(of: approval, reviewer: member, groups: ["dba"], request: request, resource: resource) == nil)
        #expect(DecisionPolicy.standing(of: approval, reviewer: member, groups: [], request: request, resource: resource) == "a@example.test is no longer a reviewer of prod-db")
        #expect(DecisionPolicy.standing(of: approval, reviewer: nil, groups: ["dba"], request: request, resource: resource)?.contains("no longer an active user") == true)
        var gone = member
        gone.isActive = false
        #expect(DecisionPolicy.standing(of: approval, reviewer: gone, groups: ["dba"], request: request, resource: resource) != nil)
    }

    @Test("One approval per reviewer: a second is refused naming the first; the shortest chosen grant wins, never longer than asked")
    func firstApprovalAndShortestGrant() {
        let request = { var r = Self.request(); r.approvalsRequired = 2; r.durationSeconds = 4 * 3600; return r }()
        let first = RecordedApproval(requestID: 7, reviewer: "a@example.test", channel: .reply, right: "group:dba", grantSeconds: 3600, comment: nil, approvedAt: Self.now)
        #expect(throws: Never.self) { try DecisionPolicy.checkFirstApproval(by: "b@example.test", request: request, approvals: [first]) }
        do {
            try DecisionPolicy.checkFirstApproval(by: "A@example.test", request: request, approvals: [first])
            Issue.record("a second approval by the same reviewer was accepted")
        } catch {
            #expect(error.code == .alreadyApproved && error.detail.contains("1 of 2 approvals"))
        }
        let resource = Resource(name: "prod-db", approverGroups: [])
        #expect(DecisionPolicy.grantSeconds(for: request, resource: resource, chosen: [nil, nil]) == 4 * 3600)
        #expect(DecisionPolicy.grantSeconds(for: request, resource: resource, chosen: [7200, nil, 3600]) == 3600)
    }

    @Test("The recent view's condition is as simple as the states asked for allow")
    func recentCondition() {
        let since = Self.now
        #expect(RequestFilter(recentSince: since).recentCondition == .pendingOrCreatedSince(since))
        #expect(RequestFilter(states: [.pending], recentSince: since).recentCondition == RequestFilter.RecentCondition.none)
        #expect(RequestFilter(states: [.approved, .denied], recentSince: since).recentCondition == .createdSince(since))
        #expect(RequestFilter(states: [.approved, .pending], recentSince: since).recentCondition == .pendingOrCreatedSince(since))
        #expect(RequestFilter(states: [.approved]).recentCondition == RequestFilter.RecentCondition.none)
    }
}
