import GatewayCLI

await ApprovalGatewayCommand.runMain()
