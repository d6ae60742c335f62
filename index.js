// The package's main entry: the built node and credential classes. n8n itself loads the files
// listed in package.json's "n8n" block; this is for anyone who requires the package directly.
module.exports = {
	CopernicaApi: require('./dist/credentials/CopernicaApi.credentials').CopernicaApi,
	CopernicaDataRequest: require('./dist/nodes/Copernica/CopernicaDataRequest.node').CopernicaDataRequest,
	CopernicaDataRequestTrigger: require('./dist/nodes/Copernica/CopernicaDataRequestTrigger.node')
		.CopernicaDataRequestTrigger,
};
