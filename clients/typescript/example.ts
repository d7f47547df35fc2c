// A typed call of almanac with the types generated from its /openapi.json (schema.d.ts): the
// cities, yesterday's hourly weather of the seed's route for a tenant in Madrid, and one month of
// Madrid's temperature as almanac's columnar answer. A field that is renamed or retyped in the API
// fails this file's compilation (`npm run build`), not a user's dashboard.
//
//   npm ci && npm run build && node dist/example.js http://127.0.0.1:8080
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type City = components["schemas"]["CityInfoResponse"];

const baseUrl = process.argv[2] ?? "http://127.0.0.1:8080";
const client = createClient<paths>({ baseUrl });

function fail(what: string, error: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(error)}`);
}

const cities = await client.GET("/api/v1/external/cities");
if (!cities.data) fail("cities", cities.error);
const madrid: City | undefined = cities.data.find((c) => c.city_id === "madrid");
if (!madrid) fail("cities", "no madrid");
console.log(`${cities.data.length} cities; ${madrid.name} at ${madrid.latitude}, ${madrid.longitude}, radius ${madrid.radius_km} km`);

const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const weather = await client.GET(
  "/api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized",
  {
    params: {
      path: { tenant_id: "8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b" },
      query: { latitude: madrid.latitude, longitude: madrid.longitude, start_date: yesterday, end_date: yesterday },
    },
  },
);
if (!weather.data) fail("weather", weather.error);
const temperatures = weather.data.map((h) => h.temperature).filter((t): t is number => t !== null && t !== undefined);
console.log(`${weather.data.length} hours of weather on ${yesterday}; temperature ${Math.min(...temperatures)} to ${Math.max(...temperatures)} °C`);

const series = await client.GET("/api/v1/locations/{id}/{dataset}", {
  params: {
    path: { id: "madrid", dataset: "weather" },
    query: { start: yesterday, end: yesterday, variables: "temperature", resolution: "hour" },
  },
});
// The route answers JSON, CSV, Arrow or Parquet (`format`); without `format` it is JSON.
if (!series.data || typeof series.data === "string") fail("series", series.error);
const columnar: components["schemas"]["Columnar"] = series.data;
const column = columnar.variables["temperature"];
if (!column) fail("series", "no temperature column");
console.log(`columnar: ${columnar.time.length} instants, temperature in ${column.unit}`);
if (columnar.time.length === 0) fail("series", "no instant");
