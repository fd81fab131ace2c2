"""The migrant-worker station (暖心驿站): newcomers registered with their ID numbers
protected, housed within the ten-household teams, job referrals, trainings,
departures, broadcasts to every team lead, and the station's figures."""
