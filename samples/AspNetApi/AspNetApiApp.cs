using System.Text.Json;
using LlmKit.Diagnostics;
using LlmKit.Hosting;
using LlmKit.Models;
using LlmKit.Plugins.Ordinal.Integration;
using LlmKit.Samples.AspNetApi.Endpoints;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Plugins;
using LlmKit.Samples.AspNetApi.Security;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace LlmKit.Samples.AspNetApi;

/// <summary>
/// Builds the OpenAI-compatible API: LlmKit registered by dependency injection from the <c>LlmKit</c> section,
/// plugins from their sections, limits from <c>Server</c>, metrics through OpenTelemetry (Prometheus text at
/// <c>/metrics</c>). Configuration comes from appsettings.json, environment variables and the command line.
/// </summary>
public static class AspNetApiApp
{
    // Latency buckets in seconds (OpenTelemetry's defaults are sized for milliseconds).
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Creates the app (model loaded, endpoints mapped) without starting it.</summary>
    /// <param name="args">Command-line arguments, e.g. <c>--urls http://127.0.0.1:0 --LlmKit:ModelPath /models/x</c>.</param>
    /// <param name="configure">Optional changes to the builder before services are registered (tests add configuration or logging here).</param>
    /// <returns>The app; call <c>RunAsync</c> or <c>StartAsync</c>.</returns>
    /// <exception cref="OptionsValidationException">A setting is invalid; the message names it.</exception>
    /// <exception cref="ArgumentException">A <c>Server</c> setting is invalid; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The model folder could not be loaded; the message names the folder and the cause.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        ConfigureServices(builder);
        var app = builder.Build();

        // Load the model before accepting requests: the first request should not pay for it, and /health tells the truth.
        LoadModel(app);
        MapEndpoints(app);
        return app;
    }

    private static void LoadModel(WebApplication app)
    {
        try
        {
            app.Services.GetRequiredService<OnnxGenAIModel>();
        }
        catch (Exception ex) when (ex is not OptionsValidationException)
        {
            // Whatever the runtime found wrong, say which setting pointed at it.
            string? folder = app.Configuration[$"{LlmKitOptions.SectionName}:{nameof(LlmKitOptions.ModelPath)}"];
            ((IDisposable)app).Dispose();
            throw new InvalidOperationException($"The model folder '{folder}' (LlmKit:ModelPath) could not be loaded: {ex.Message}", ex);
        }
    }

    private static void ConfigureServices(WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var services = builder.Services;

        var serverSection = configuration.GetSection(ServerOptions.SectionName);
        services.AddOptions<ServerOptions>().Bind(serverSection).Validate(Valid, "Server options are invalid.").ValidateOnStart();
        var server = serverSection.Get<ServerOptions>() ?? new ServerOptions();
        server.Validate();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = server.MaxRequestBodyBytes);
        services.AddServerSecurity(configuration, server);

        services.AddLlmKit(configuration.GetSection(LlmKitOptions.SectionName));
        services.AddSingleton<GenerationQueue>();
        services.AddSingleton<PromptBudget>();
        services.AddSingleton<ChatCompletionsEndpoint>();
        services.AddSingleton<RouteMethods>();

        // Plugins: each is registered when its section is present.
        if (configuration.GetSection("Moderation").Exists())
        {
            services.AddDomainModeration(configuration.GetSection("Moderation"));
            services.AddSingleton<ModerationsEndpoint>();
        }

        if (configuration.GetSection("Ordinal").Exists())
        {
            services.AddOrdinalClassifier(configuration.GetSection("Ordinal"));
            services.AddSingleton<RatingsEndpoint>();
        }

        services.AddPromptCompression(configuration);
        services.AddSingleton<CompressionsEndpoint>();
        services.AddEmbeddingsEndpoint(configuration);

        services.AddHealthChecks().AddCheck<ModelHealthCheck>("model");
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("LlmKit.AspNetApi"))
            .WithMetrics(metrics => metrics
                .AddMeter(LlmKitTelemetry.Name, "LlmKit.*", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddView(instrument => instrument.Unit == "s"
                    ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets }
                    : null)
                .AddPrometheusExporter());
    }

    private static void MapEndpoints(WebApplication app)
    {
        // Unexpected failures still answer in OpenAI's shape (500, no internals); the exception goes to the log.
        app.UseExceptionHandler(errors => errors.Run(http => ApiJson.WriteErrorAsync(http, new ApiException(
            StatusCodes.Status500InternalServerError, "The server failed to process the request; see its log.", null, "internal_error", "server_error"))));
        app.UseServerSecurity(app.Services.GetRequiredService<IOptions<ServerOptions>>().Value);

        app.MapPost("/v1/chat/completions", (HttpContext http, ChatCompletionsEndpoint endpoint) => endpoint.HandleAsync(http));
        app.MapGet("/v1/models", (OnnxGenAIModel model, IOptions<LlmKitOptions> options) =>
        {
            string id = string.IsNullOrWhiteSpace(options.Value.ModelId) ? model.ModelId : options.Value.ModelId;
            long created = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(model.Folder, "genai_config.json"))).ToUnixTimeSeconds();
            // The base model and one "{id}+{adapter}" alias per LoRA adapter (LlmKit:Adapters): an OpenAI client picks one by its model field.
            return Results.Json(new ModelList([.. ChatRequestMapper.ModelIds(id, model.AdapterNames).Select(m => new ModelCard(m, created, "llmkit", model.MaxLength))]), ApiJson.Options);
        });

        if (app.Services.GetService<ModerationsEndpoint>() is not null)
        {
            app.MapPost("/v1/moderations", (HttpContext http, ModerationsEndpoint endpoint) => endpoint.HandleAsync(http));
        }

        if (app.Services.GetService<RatingsEndpoint>() is not null)
        {
            app.MapPost("/v1/ratings", (HttpContext http, RatingsEndpoint endpoint) => endpoint.HandleAsync(http));
        }

        app.MapPost("/v1/compressions", (HttpContext http, CompressionsEndpoint endpoint) => endpoint.HandleAsync(http));
        app.MapEmbeddingsEndpoint();
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        app.MapPrometheusScrapingEndpoint("/metrics");

        // Unknown routes answer in OpenAI's error shape too, so SDKs show a readable message. A catch-all fallback
        // also catches a known path with the wrong method, which ASP.NET would answer 405: tell them apart here.
        app.MapFallback((HttpContext http, RouteMethods routes) => AnswerUnmatchedAsync(http, routes));
    }

    private static Task AnswerUnmatchedAsync(HttpContext http, RouteMethods routes)
    {
        var allowed = routes.AllowedFor(http.Request.Path);
        if (allowed.Count == 0)
        {
            return ApiJson.RefuseAsync(http, new ApiException(StatusCodes.Status404NotFound,
                $"No endpoint {http.Request.Method} {http.Request.Path}. Endpoints: POST /v1/chat/completions, GET /v1/models, GET /health.", null, "not_found"));
        }

        string methods = string.Join(", ", allowed);
        http.Response.Headers.Allow = methods;
        return ApiJson.RefuseAsync(http, new ApiException(StatusCodes.Status405MethodNotAllowed,
            $"{http.Request.Method} is not allowed here: use {string.Join(" or ", allowed.Select(m => $"{m} {http.Request.Path}"))}.", null, "method_not_allowed"));
    }

    private static Task WriteHealthAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data }),
        };
        return JsonSerializer.SerializeAsync(http.Response.Body, body, ApiJson.Options, http.RequestAborted);
    }

    private static bool Valid(ServerOptions options)
    {
        options.Validate();
        return true;
    }
}
