using Microsoft.AspNetCore.HostFiltering;

namespace LlmKit.Samples.AspNetApi.Security;

/// <summary>
/// The server's access control, all from configuration: Host filtering (loopback names unless <c>AllowedHosts</c> is
/// set), CORS only for <see cref="ServerOptions.CorsAllowedOrigins"/>, and the API key of <see cref="ServerOptions.ApiKey"/>.
/// JSON-only bodies (415 otherwise) are enforced where bodies are read, in <see cref="Serving.ApiJson"/>.
/// </summary>
public static partial class ServerSecurity
{
    /// <summary>ASP.NET Core's configuration key for the allowed Host names (semicolon-separated; <c>*</c> allows any).</summary>
    public const string AllowedHostsKey = "AllowedHosts";

    /// <summary>The Host names allowed when <c>AllowedHosts</c> is not configured: the loopback names only.</summary>
    public static IReadOnlyList<string> LoopbackHosts { get; } = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Registers Host filtering defaults and, when origins are configured, the CORS policy.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The app configuration (read for <c>AllowedHosts</c>).</param>
    /// <param name="server">The validated server options.</param>
    public static void AddServerSecurity(this IServiceCollection services, IConfiguration configuration, ServerOptions server)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(server);

        // WebApplication already runs ASP.NET's Host filtering, but with "*" when AllowedHosts is unset. Any Host would
        // let a page on a rebound DNS name (evil.example -> 127.0.0.1) read the API, so the default is loopback.
        services.PostConfigure<HostFilteringOptions>(hosts =>
        {
            if (string.IsNullOrWhiteSpace(configuration[AllowedHostsKey]))
            {
                hosts.AllowedHosts = [.. LoopbackHosts];
            }
        });

        if (server.CorsAllowedOrigins.Count == 0)
        {
            return; // No CORS services, no headers: browsers keep other sites' pages from reading the answers.
        }

        services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            if (server.CorsAllowedOrigins.Contains("*"))
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins([.. server.CorsAllowedOrigins]);
            }

            // Any request header: OpenAI's browser SDKs send their own (x-stainless-*) besides Authorization.
            policy.WithMethods("GET", "POST").AllowAnyHeader().WithExposedHeaders("Retry-After");
        }));
    }

    /// <summary>Adds CORS (when configured) and then the API-key check (when a key is set) to the pipeline.</summary>
    /// <param name="app">The app, before its endpoints run.</param>
    /// <param name="server">The validated server options.</param>
    public static void UseServerSecurity(this WebApplication app, ServerOptions server)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(server);

        // CORS first: a browser's preflight carries no Authorization header and must be answered without the key.
        if (server.CorsAllowedOrigins.Count > 0)
        {
            app.UseCors();
        }

        if (server.RequiresApiKey)
        {
            app.UseMiddleware<ApiKeyMiddleware>();
        }
        else
        {
            LogNoApiKey(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ServerSecurity).FullName!));
        }
    }

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "No Server:ApiKey is set: any client that reaches this server can use it (see the Security section of docs/aspnet.md)")]
    private static partial void LogNoApiKey(ILogger logger);
}
