-- The branch whose pushes deploy the app; NULL means main (or master).
ALTER TABLE apps ADD COLUMN deploy_branch TEXT;
