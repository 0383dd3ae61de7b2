# A rack app: hop3 runs it through uWSGI's rack plugin as the web process (no Procfile needed),
# with the rack gem Bundler resolved from the Gemfile.
require 'cgi'
require 'rack'

app = lambda do |env|
  request = Rack::Request.new(env)
  h = ->(s) { CGI.escapeHTML(s.to_s) }
  page = "<h1>Hello from #{h[ENV['HOP3_APP']]} #{h[ENV['HOP3_RELEASE']]} on Ruby #{RUBY_VERSION}</h1>\n" \
         "<p>You asked for #{h[request.path_info]}</p>\n" \
         "<p>with rack #{Rack.release}</p>\n"
  [200, { 'content-type' => 'text/html; charset=utf-8' }, [page]]
end

run app
