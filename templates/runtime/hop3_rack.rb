# hop3 rack loader. uWSGI's rack plugin requires this before it loads config.ru; it takes the
# app's environment from a JSON run file so that no user value is ever written into a uWSGI
# config file.
require 'json'

run = JSON.parse(File.read(ENV.fetch('HOP3_RUN_FILE')))
# The app sees its own environment only. uWSGI's own variables stay: a vassal that reloads
# re-executes itself and finds its emperor through them (UWSGI_EMPEROR_FD...).
uwsgi = ENV.to_h.select { |k, _| k.start_with?('UWSGI_') }
ENV.replace(uwsgi.merge(run.fetch('env')))
Dir.chdir(run.fetch('cwd'))
$stdout.sync = true
$stderr.sync = true
# RubyGems read GEM_HOME when the plugin started Ruby, before the run file's was set.
Gem.clear_paths
require 'bundler/setup' if File.file?('Gemfile')
