/** Valid objects of every kind and a connection, for provider tests. Each test copies what it changes. */

export const connection = { adminUrl: "http://127.0.0.1:9180", adminToken: "0123456789abcdef0123456789abcdef" };

export const httpService = () => ({ name: "web", protocol: "http", port: 8080 });
export const tcpService = () => ({ name: "db", protocol: "tcp", port: 5432 });
export const virtualGroup = () => ({ name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }] });
export const availabilityGroup = () => ({
  name: "pair",
  type: "availability",
  servers: [
    { address: "10.0.0.1", role: "primary" },
    { address: "10.0.0.2", role: "secondary" },
  ],
});
export const httpCheck = () => ({ name: "probe", backendService: "web", protocol: "HTTP" });
export const tcpCheck = () => ({ name: "probe", backendService: "db", protocol: "TCP" });
export const httpListener = () => ({ name: "front", protocol: "http", port: 8081, backendService: "web" });

/** A self-signed-looking PEM pair: the model checks the PEM framing, the data plane the contents. */
export const pem = {
  chain: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  privateKey: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
};
