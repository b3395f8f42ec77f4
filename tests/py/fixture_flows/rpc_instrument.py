from hero_tracing import flow, instrument


class Weather:
    units = "metric"

    def forecast(self, city, days=1):
        return {"city": city, "days": days, "temp": 21.5}

    def alerts(self, city):
        raise ConnectionError("upstream unavailable")

    def _token(self):
        return "secret"


@flow(name="rpc")
def rpc():
    api = instrument(Weather())
    kv = instrument(Weather(), service="weather_v2")
    api.forecast("Oslo", days=2)
    kv.forecast("x" * 5000)
    try:
        api.alerts("Oslo")
    except ConnectionError:
        pass
    return api.units + api._token()
