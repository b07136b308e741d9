import GatewayConfig
import MailTransport

extension SMTPSettings {
    /// The transport configuration for these settings.
    func transportConfiguration() throws -> SMTPConfiguration {
        do {
            return try SMTPConfiguration(
                url: url, username: username, password: password, startTLS: StartTLSPolicy(startTLS),
                caFile: caFile, verifyCertificates: verifyCertificates, ehloName: ehloName,
                timeout: .seconds(timeoutSeconds)
            )
        } catch {
            throw CLIFailure("smtp settings: \(error)")
        }
    }

    /// The name sent with EHLO: the domain of the gateway's address.
    var ehloName: String { from.split(separator: "@").last.map(String.init) ?? "localhost" }
}

extension IMAPSettings {
    /// The transport configuration for these settings.
    func transportConfiguration() throws -> IMAPConfiguration {
        guard let username, let password else {
            throw CLIFailure("imap.username and imap.password (or APPROVAL_GATEWAY_IMAP_PASSWORD) are required")
        }
        do {
            return try IMAPConfiguration(
                url: url, username: username, password: password, startTLS: StartTLSPolicy(startTLS),
                caFile: caFile, verifyCertificates: verifyCertificates, commandTimeout: .seconds(timeoutSeconds)
            )
        } catch {
            throw CLIFailure("imap settings: \(error)")
        }
    }
}

extension StartTLSPolicy {
    init(_ setting: StartTLSSetting) {
        switch setting {
        case .required: self = .required
        case .opportunistic: self = .opportunistic
        case .off: self = .off
        }
    }
}
