import GatewayConfig
import Testing

/// `auth.*`: how people sign in to the pages.
@Suite("Sign-in settings") struct AuthSettingsTests {
    func parse(_ yaml: String, environment: [String: String] = [:]) throws -> GatewayConfiguration {
        try GatewayConfiguration.parse(yaml, file: "gateway.yaml", baseDirectory: "/srv/gateway", environment: environment)
    }

    func problems(_ yaml: String, environment: [String: String] = [:]) -> String {
        do {
            _ = try parse(yaml, environment: environment)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("Without auth settings: emailed links only")
    func defaults() throws {
        let configuration = try parse("")
        #expect(configuration.auth.emailLinks && configuration.auth.oidc == nil)
    }

    @Test("OIDC-7: the provider's settings, with the client secret from the environment; openid and email are always asked")
    func provider() throws {
        let configuration = try parse("""
            auth:
              oidc:
                issuer: https://idp.example.com/realms/corp
                client_id: approval-gateway
                scopes: profile groups
                groups_claim: groups
                synced_groups: [db-approvers, web-approvers]
                ca_file: certs/idp.pem
            """, environment: ["APPROVAL_GATEWAY_AUTH_OIDC_CLIENT_SECRET": "from-env"])
        let oidc = try #require(configuration.auth.oidc)
        #expect(oidc.issuer == "https://idp.example.com/realms/corp" && oidc.clientID == "approval-gateway" && oidc.clientSecret == "from-env")
        #expect(oidc.scopes == ["openid", "profile", "groups", "email"])
        #expect(oidc.name == "idp.example.com")
        #expect(oidc.syncedGroups == ["db-approvers", "web-approvers"] && oidc.groupsClaim == "groups")
        #expect(oidc.caFile == "/srv/gateway/certs/idp.pem")
    }

    @Test("OIDC-7: a secret in the file, plain http off loopback, a missing client id, synced groups without a claim, and no way in are refused")
    func refused() {
        #expect(problems("auth:\n  oidc:\n    issuer: https://idp.example.com\n    client_id: gw\n    client_secret: oops\n").contains("APPROVAL_GATEWAY_AUTH_OIDC_CLIENT_SECRET"))
        #expect(problems("auth:\n  oidc:\n    issuer: http://idp.example.com\n    client_id: gw\n").contains("must be https://"))
        #expect(problems("auth:\n  oidc:\n    issuer: http://127.0.0.1:9400\n    client_id: gw\n").isEmpty)
        #expect(problems("auth:\n  oidc:\n    issuer: https://idp.example.com\n").contains("client_id"))
        #expect(problems("auth:\n  oidc:\n    issuer: https://idp.example.com\n    client_id: gw\n    synced_groups: [ops]\n").contains("groups_claim"))
        #expect(problems("auth:\n  email_links: false\n").contains("nobody could sign in"))
    }
}
