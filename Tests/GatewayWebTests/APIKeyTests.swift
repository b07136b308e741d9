import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// AUTHZ-6 over HTTP: every API call proves who acts with its key.
@Suite struct APIKeyTests {
    struct Answer {
        var status: Int
        var json: [String: Any]
    }

    func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ body: [String: Any]? = nil, key: String) async throws -> Answer {
        var headers: HTTPFields = [.authorization: "Bearer \(key)"]
        var buffer: ByteBuffer?
        if let body {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
        }
        let response = try await client.executeRequest(uri: "/api/v1" + path, method: method, headers: headers, body: buffer)
        return Answer(status: Int(response.status.code), json: (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
    }

    func key(_ fixture: WebFixture, _ name: String, _ owner: APIKeyOwner, expiresAt: Date? = nil) async throws -> String {
        try await fixture.service.createAPIKey(name: name, owner: owner, expiresAt: expiresAt).secret
    }

    @Test("AUTHZ-6: requester1's personal key cannot decide any request and cannot name another requester")
    func requesterPersonalKey() async throws {
        let fixture = try await WebFixture()
        let own = try await fixture.request()
        let others = try await fixture.request("requester2@example.test")
        let rita = try await key(fixture, "rita", .user("requester1@example.test"))
        try await fixture.application().test(.router) { client in
            let selfDecision = try await call(client, .post, "/requests/\(own.id)/decision", ["action": "approve"], key: rita)
            #expect(selfDecision.status == 403 && selfDecision.json["reason"] as? String == "self_decision")
            let other = try await call(client, .post, "/requests/\(others.id)/decision", ["action": "approve"], key: rita)
            #expect(other.status == 403 && other.json["reason"] as? String == "not_allowed")
            let asAdmin = try await call(client, .post, "/requests/\(own.id)/decision", ["action": "approve", "reviewer": "admin@example.test"], key: rita)
            #expect(asAdmin.status == 403 && asAdmin.json["error"] as? String == "forbidden" && asAdmin.json["field"] as? String == "reviewer")
            let forSomeoneElse = try await call(client, .post, "/requests", ["requester": "requester2@example.test", "resource": "staging-web", "reason": "x"], key: rita)
            #expect(forSomeoneElse.status == 403 && forSomeoneElse.json["error"] as? String == "forbidden" && forSomeoneElse.json["field"] as? String == "requester")
            // It reads only what its user may see.
            #expect(try await call(client, .get, "/requests/\(others.id)", key: rita).status == 404)
            let listed = try await call(client, .get, "/requests", key: rita)
            #expect((listed.json["requests"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [Int(own.id)])
        }
        #expect(try await fixture.store.request(id: own.id)?.state == .pending)
        #expect(try await fixture.store.request(id: others.id)?.state == .pending)
    }

    @Test("AUTHZ-6: approver1's personal key decides a db-approvers request and is refused on another resource's")
    func approverPersonalKey() async throws {
        let fixture = try await WebFixture()
        let db = try await fixture.request()
        let web = try await fixture.request("requester2@example.test", resource: "staging-web")
        let ann = try await key(fixture, "ann", .user("approver1@example.test"))
        try await fixture.application().test(.router) { client in
            let refused = try await call(client, .post, "/requests/\(web.id)/decision", ["action": "approve"], key: ann)
            #expect(refused.status == 403 && refused.json["reason"] as? String == "not_allowed")
            let decided = try await call(client, .post, "/requests/\(db.id)/decision", ["action": "approve", "comment": "ok"], key: ann)
            #expect(decided.status == 200 && decided.json["right"] as? String == "group:db-approvers")
        }
        #expect(try await fixture.store.request(id: db.id)?.decision?.reviewer == "approver1@example.test")
        #expect(try await fixture.store.request(id: web.id)?.state == .pending)
    }

    @Test("AUTHZ-6: an integration key without directory:write cannot change groups or approvers")
    func integrationKeyWithoutDirectoryWrite() async throws {
        let fixture = try await WebFixture()
        let proxy = try await key(fixture, "proxy", .integration([.accessRead, .usageWrite, .requestsRead, .requestsCreate]))
        try await fixture.application().test(.router) { client in
            let members = try await call(client, .put, "/groups/db-approvers/members", ["members": ["requester1@example.test"]], key: proxy)
            #expect(members.status == 403 && members.json["error"] as? String == "forbidden")
            #expect((members.json["message"] as? String)?.contains("directory:write") == true)
            let approvers = try await call(client, .put, "/resources/prod-db/approver-groups", ["groups": ["web-approvers"]], key: proxy)
            #expect(approvers.status == 403)
        }
        #expect(try await fixture.store.groups().first { $0.name == "db-approvers" }?.members == ["approver1@example.test", "approver2@example.test"])
        #expect(try await fixture.store.resource(named: "prod-db")?.approverGroups == ["db-approvers"])
    }

    @Test("AUTHZ-6: a requests:create key opens a request for a named requester but cannot decide it")
    func requestsCreateKey() async throws {
        let fixture = try await WebFixture()
        let bot = try await key(fixture, "chat-bot", .integration([.requestsCreate]))
        try await fixture.application().test(.router) { client in
            let created = try await call(client, .post, "/requests", ["requester": "requester1@example.test", "resource": "prod-db", "reason": "via chat"], key: bot)
            #expect(created.status == 201 && created.json["requester"] as? String == "requester1@example.test")
            let id = try #require(created.json["id"] as? Int)
            let decided = try await call(client, .post, "/requests/\(id)/decision", ["action": "approve", "reviewer": "admin@example.test"], key: bot)
            #expect(decided.status == 403 && decided.json["error"] as? String == "forbidden")
            // Outside its scope: reading access.
            #expect(try await call(client, .get, "/access?user=requester1@example.test&resource=prod-db", key: bot).status == 403)
            #expect(try await fixture.store.request(id: Int64(id))?.state == .pending)
        }
        let audit = try await fixture.store.auditLog(requestID: nil)
        #expect(audit.contains { $0.action == .create && $0.actor == "api-key:chat-bot" && $0.channel == .api })
        #expect(audit.contains { $0.action == .decide && $0.outcome == .refused && $0.reason == "forbidden" })
    }

    @Test("AUTHZ-6: revoked and expired keys get 401 at once")
    func revokedAndExpiredKeys() async throws {
        let fixture = try await WebFixture()
        let revoked = try await key(fixture, "old-proxy", .integration([.accessRead]))
        let expiring = try await key(fixture, "laptop", .user("admin@example.test"), expiresAt: fixture.clock.now.addingTimeInterval(3600))
        try await fixture.application().test(.router) { client in
            #expect(try await call(client, .get, "/access?user=requester1@example.test&resource=prod-db", key: revoked).status == 200)
            _ = try await fixture.service.revokeAPIKey(name: "old-proxy")
            let after = try await call(client, .get, "/access?user=requester1@example.test&resource=prod-db", key: revoked)
            #expect(after.status == 401 && after.json["error"] as? String == "unauthorized")
            #expect(try await call(client, .get, "/resources", key: expiring).status == 200)
            fixture.clock.advance(by: 3600)
            #expect(try await call(client, .get, "/resources", key: expiring).status == 401)
        }
    }
}
