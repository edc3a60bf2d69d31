DROP TABLE portal_link_uses;
DROP TABLE app_secrets;
DROP TABLE guidance_reminders;
DROP TABLE guidance_slot_claims;
DROP TABLE guidance_sessions;
DROP TABLE pharmacist_exceptions;
DROP TABLE pharmacist_hours;
DROP TABLE guidance_settings;
