import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The JSON API under /api/v1, checked exchange by exchange against its OpenAPI document.
@Suite struct APITests {
    final class API: @unchecked Sendable {
        let client: any TestClientProtocol
        let document: OpenAPIDocument
        var key: String?

        init(client: any TestClientProtocol, document: OpenAPIDocument) {
            self.client = client
            self.document = document
        }

        @discardableResult
        func call(_ method: HTTPRequest.Method, _ path: String, _ body: Any? = nil, key: String? = nil) async throws -> (status: Int, json: [String: Any]) {
            var headers: HTTPFields = [:]
            if let key = key ?? self.key { headers[.authorization] = "Bearer \(key)" }
            var buffer: ByteBuffer?
            if let body {
                headers[.contentType] = "application/json"
                buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
            }
            let response = try await client.executeRequest(uri: "/api/v1" + path, method: method, headers: headers, body: buffer)
            let data = Data(buffer: response.body)
            document.check(method: method.rawValue, path: path, status: Int(response.status.code), body: data)
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return (Int(response.status.code), json)
        }
    }

    @Test func apiFollowsTheRulesAndItsOpenAPIDocument() async throws {
        let fixture = try await WebFixture()
        let document = try OpenAPIDocument(path: WebFixture.projectRoot.appendingPathComponent("templates/web/openapi.yaml").path)
        // An integration key with every scope (a chat bot and access proxy in one), and personal keys.
        let generated = try await fixture.service.createAPIKey(name: "proxy", owner: .integration(Set(APIScope.allCases)), expiresAt: nil).secret
        let rita = try await fixture.service.createAPIKey(name: "rita", owner: .user("requester1@example.test"), expiresAt: nil).secret
        let ann = try await fixture.service.createAPIKey(name: "ann", owner: .user("approver1@example.test"), expiresAt: nil).secret
        let abe = try await fixture.service.createAPIKey(name: "abe", owner: .user("approver2@example.test"), expiresAt: nil).secret
        let amy = try await fixture.service.createAPIKey(name: "amy", owner: .user("approver3@example.test"), expiresAt: nil).secret
        try await fixture.application().test(.router) { client in
            let served = try await client.execute(uri: "/api/v1/openapi.yaml", method: .get)
            #expect(String(buffer: served.body) == (try String(contentsOfFile: WebFixture.projectRoot.appendingPathComponent("templates/web/openapi.yaml").path, encoding: .utf8)))
            let api = API(client: client, document: document)

            #expect(try await api.call(.get, "/requests").status == 401)
            #expect(try await api.call(.get, "/requests", key: "agk_" + String(repeating: "x", count: 43)).status == 401)
            api.key = generated

            // Validation errors name the field.
            var result = try await api.call(.post, "/requests", ["requester": "requester1@example.test", "resource": "prod-db"])
            #expect(result.status == 400 && result.json["field"] as? String == "reason")
            result = try await api.call(.post, "/requests", ["requester": "requester1@example.test", "resource": "prod-db", "reason": "x", "duration": "forever"])
            #expect(result.status == 400 && result.json["field"] as? String == "duration")
            result = try await api.call(.post, "/requests", ["requester": "requester1@example.test", "resource": "prod-db", "reason": "x", "duration": "2h"])
            #expect(result.status == 400 && result.json["field"] as? String == "duration")
            result = try await api.call(.post, "/requests", ["requester": "requester1@example.test", "resource": "nope", "reason": "x"])
            #expect(result.status == 400 && result.json["field"] as? String == "resource")
            result = try await api.call(.post, "/requests", ["resource": "prod-db", "reason": "x"])
            #expect(result.status == 400 && result.json["field"] as? String == "requester")
            result = try await api.call(.post, "/requests", ["requester": 7, "resource": "prod-db", "reason": "x"])
            #expect(result.status == 400 && result.json["field"] as? String == "requester")

            let created = try await api.call(.post, "/requests", ["requester": "requester1@example.test", "resource": "prod-db", "reason": "incident 7", "duration": "4h"])
            #expect(created.status == 201 && created.json["status"] as? String == "pending" && created.json["duration_seconds"] as? Int == 14_400)
            let id = try #require(created.json["id"] as? Int)
            #expect(try await api.call(.post, "/requests", ["requester": "requester1@example.test", "resource": "prod-db", "reason": "again"]).status == 409)
            // A personal key opens its user's own requests.
            let own = try await api.call(.post, "/requests", ["resource": "staging-web", "reason": "deploy", "duration": 3600], key: rita)
            #expect(own.status == 201 && own.json["requester"] as? String == "requester1@example.test")
            let ownID = try #require(own.json["id"] as? Int)

            #expect(try await api.call(.get, "/requests?status=bogus").json["field"] as? String == "status")
            #expect(try await api.call(.get, "/requests?limit=0").json["field"] as? String == "limit")
            let listed = try await api.call(.get, "/requests?status=pending&resource=prod-db")
            #expect((listed.json["requests"] as? [[String: Any]])?.map { $0["id"] as? Int } == [id])
            #expect(try await api.call(.get, "/requests/\(id)").json["reason"] as? String == "incident 7")
            #expect(try await api.call(.get, "/requests/99999").status == 404)
            #expect(try await api.call(.get, "/requests/abc").status == 400)

            // Decisions: personal keys only, with the same rules as every channel.
            #expect(try await api.call(.post, "/requests/\(id)/decision", ["reviewer": "approver1@example.test"], key: ann).json["field"] as? String == "action")
            result = try await api.call(.post, "/requests/\(id)/decision", ["action": "approve"], key: rita)
            #expect(result.status == 403 && result.json["reason"] as? String == "self_decision")
            result = try await api.call(.post, "/requests/\(id)/decision", ["action": "approve"], key: amy)
            #expect(result.status == 403 && result.json["reason"] as? String == "not_allowed")
            result = try await api.call(.post, "/requests/\(id)/decision", ["reviewer": "approver1@example.test", "action": "approve"])
            #expect(result.status == 403 && result.json["error"] as? String == "forbidden")
            // Never longer than asked (4h).
            result = try await api.call(.post, "/requests/\(id)/decision", ["action": "approve", "duration": "5h"], key: ann)
            #expect(result.status == 400 && result.json["field"] as? String == "duration")
            result = try await api.call(.post, "/requests/\(id)/decision", ["reviewer": "approver1@example.test", "action": "approve", "comment": "ok", "duration": "2h"], key: ann)
            #expect(result.status == 200 && (result.json["request"] as? [String: Any])?["channel"] as? String == "api")
            let grantJSON = try #require(result.json["grant"] as? [String: Any])
            let starts = try #require((grantJSON["starts_at"] as? String).flatMap(RFC3339.date(from:)))
            #expect((grantJSON["ends_at"] as? String).flatMap(RFC3339.date(from:)) == starts.addingTimeInterval(7200))
            #expect((result.json["grant"] as? [String: Any])?["request_id"] as? Int == id)
            #expect(result.json["right"] as? String == "group:db-approvers")
            result = try await api.call(.post, "/requests/\(id)/decision", ["action": "deny"], key: abe)
            #expect(result.status == 409 && result.json["reason"] as? String == "not_pending")
            #expect(try await api.call(.post, "/requests/99999/decision", ["action": "deny"], key: ann).status == 404)

            // Access check and usage.
            result = try await api.call(.get, "/access?user=requester1@example.test&resource=prod-db")
            #expect(result.status == 200 && result.json["allowed"] as? Bool == true && result.json["request_id"] as? Int == id)
            #expect(try await api.call(.get, "/access?user=requester2@example.test&resource=prod-db").json["allowed"] as? Bool == false)
            #expect(try await api.call(.get, "/access?resource=prod-db").json["field"] as? String == "user")
            #expect(try await api.call(.post, "/usage", ["user": "requester1@example.test", "resource": "prod-db"]).status == 200)
            #expect(try await api.call(.post, "/usage", ["user": "requester1@example.test"]).json["field"] as? String == "resource")

            // Early revocation: the personal key of an admin-role user only; the grant ends at once.
            let rex = try await fixture.service.createAPIKey(name: "rex", owner: .user("reviewer@example.test"), expiresAt: nil).secret
            let grantID = try #require(try await fixture.store.read { try $0.grant(requestID: Int64(id)) }?.id)
            #expect(try await api.call(.post, "/grants/\(grantID)/revoke", ["reason": "done"]).status == 403)
            #expect(try await api.call(.post, "/grants/\(grantID)/revoke", ["reason": "done"], key: ann).status == 403)
            result = try await api.call(.post, "/grants/\(grantID)/revoke", ["reason": "incident closed"], key: rex)
            #expect(result.status == 200 && result.json["revoked_by"] as? String == "reviewer@example.test" && result.json["revoke_reason"] as? String == "incident closed")
            #expect(try await api.call(.get, "/access?user=requester1@example.test&resource=prod-db").json["allowed"] as? Bool == false)
            #expect(try await api.call(.post, "/grants/\(grantID)/revoke", [String: Any](), key: rex).status == 409)
            #expect(try await api.call(.post, "/grants/99999/revoke", [String: Any](), key: rex).status == 404)

            // Cancel: only the requester.
            result = try await api.call(.post, "/requests/\(ownID)/cancel", ["requester": "requester2@example.test"])
            #expect(result.status == 403)
            #expect(try await api.call(.post, "/requests/\(ownID)/cancel", [String: Any](), key: rita).json["status"] as? String == "cancelled")
            #expect(try await api.call(.post, "/requests/\(ownID)/cancel", [String: Any](), key: rita).status == 409)

            // The directory.
            #expect((try await api.call(.get, "/users").json["users"] as? [Any])?.count == WebFixture.directory.users.count)
            #expect((try await api.call(.get, "/groups").json["groups"] as? [Any])?.count == 2)
            #expect((try await api.call(.get, "/resources").json["resources"] as? [Any])?.count == WebFixture.directory.resources.count)
            #expect(try await api.call(.put, "/resources/prod-db/approver-groups", ["groups": ["nope"]]).json["field"] as? String == "groups")
            #expect(try await api.call(.put, "/resources/prod-db/approver-groups", ["groups": "db-approvers"]).json["field"] as? String == "groups")
            #expect(try await api.call(.put, "/resources/nope/approver-groups", ["groups": ["db-approvers"]]).status == 404)
            result = try await api.call(.put, "/groups/oncall/members", ["members": ["approver3@example.test"]])
            #expect(result.status == 200 && result.json["members"] as? [String] == ["approver3@example.test"])
            #expect(try await api.call(.put, "/groups/oncall/members", ["members": ["ghost@example.test"]]).json["field"] as? String == "members")
            result = try await api.call(.put, "/resources/prod-db/approver-groups", ["groups": ["db-approvers", "oncall"]])
            #expect(result.status == 200 && result.json["approver_groups"] as? [String] == ["db-approvers", "oncall"])
        }
        #expect(document.problems == [])
        #expect(document.exercised == document.operations, "not exercised: \(document.operations.subtracting(document.exercised).sorted())")
        let audit = try await fixture.store.auditLog(requestID: nil)
        #expect(audit.contains { $0.action == .approverGroups && $0.channel == .api && $0.actor == "api-key:proxy" })
    }
}
