"""The raw tables Air4Thai fills (air4thai_stations, air4thai_hourly) and the endpoints they
are read from: column types, measured parameters and their units."""

from __future__ import annotations

SOURCE = "air4thai"


STATIONS_TABLE = "air4thai_stations"


HOURLY_TABLE = "air4thai_hourly"


STATIONS_PATH = "/services/getNewAQI_JSON.php"


HISTORY_PATH = "/forweb/getHistoryData.php"


# Air4Thai's own web map asks for ~45 stations per history call; a longer list times out.
MAX_STATIONS_PER_REQUEST = 40


# Numeric missing-value codes (the string forms are in common.MISSING_SENTINELS).
MISSING_NUMBERS = "-1, -999, -9999"


STATIONS_COLUMNS: dict[str, str] = {
    "station_id": "VARCHAR",
    "name_th": "VARCHAR",
    "name_en": "VARCHAR",
    "area_th": "VARCHAR",
    "area_en": "VARCHAR",
    "station_type": "VARCHAR",
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "aqi_last_at": "TIMESTAMP",
    "pm25_value": "DOUBLE",
    "pm25_aqi": "INTEGER",
    "pm10_value": "DOUBLE",
    "pm10_aqi": "INTEGER",
    "o3_value": "DOUBLE",
    "o3_aqi": "INTEGER",
    "co_value": "DOUBLE",
    "co_aqi": "INTEGER",
    "no2_value": "DOUBLE",
    "no2_aqi": "INTEGER",
    "so2_value": "DOUBLE",
    "so2_aqi": "INTEGER",
    "aqi": "INTEGER",
    "aqi_param": "VARCHAR",
    "aqi_color_id": "INTEGER",
}


HOURLY_COLUMNS: dict[str, str] = {
    "station_id": "VARCHAR",
    "measured_at": "TIMESTAMP",
    "pm25": "DOUBLE",
    "pm10": "DOUBLE",
    "o3": "DOUBLE",
    "co": "DOUBLE",
    "no2": "DOUBLE",
    "so2": "DOUBLE",
    "ws": "DOUBLE",
    "wd": "DOUBLE",
    "temp": "DOUBLE",
    "rh": "DOUBLE",
}


# History payload parameter -> raw column.
HOURLY_PARAMS: dict[str, str] = {
    "PM25": "pm25",
    "PM10": "pm10",
    "O3": "o3",
    "CO": "co",
    "NO2": "no2",
    "SO2": "so2",
    "WS": "ws",
    "WD": "wd",
    "TEMP": "temp",
    "RH": "rh",
}


POLLUTANTS = ("PM25", "PM10", "O3", "CO", "NO2", "SO2")


# Station text fields kept exactly as served (nameTH has trailing spaces; curation trims).
STATION_TEXT: dict[str, str] = {
    "name_th": "nameTH",
    "name_en": "nameEN",
    "area_th": "areaTH",
    "area_en": "areaEN",
    "station_type": "stationType",
}
