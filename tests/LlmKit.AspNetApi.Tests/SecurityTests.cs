using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// The defaults of an app started without security settings: open (no API key), but only for loopback Host names,
/// JSON bodies only, and no CORS headers for any page.
/// </summary>
[Collection(SharedAppCollection.Name)]
public sealed class DefaultSecurityTests(SharedApp shared)
{
    private const string Chat = """{"messages":[{"role":"user","content":"Once"}],"max_tokens":2}""";

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    public async Task ABodyThatIsNotJsonGets415(string contentType)
    {
        // text/plain, form and multipart are the bodies a web page may POST cross-site without a CORS preflight.
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(Chat));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await shared.App.Http.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Contains("application/json", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1/compressions", """{"prompt":"hello there","rate":0.5}""")]
    [InlineData("v1/chat/completions", Chat)]
    public async Task EveryJsonEndpointRefusesABodyWithoutAContentType(string path, string body)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        using var response = await shared.App.Http.PostAsync(new Uri(path, UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task JsonWithACharsetIsAccepted()
    {
        using var content = new StringContent(Chat, Encoding.UTF8, "application/json");
        Assert.Equal("utf-8", content.Headers.ContentType!.CharSet);
        using var response = await shared.App.Http.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:8080")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task AForeignHostHeaderIsRefused(string host)
    {
        // DNS rebinding: a page on evil.example re-resolves its name to 127.0.0.1; the browser still sends its Host.
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Host = host;
        using var response = await shared.App.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("stories260K", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    public async Task LoopbackHostNamesAreAllowedByDefault(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Host = host + ":" + shared.App.BaseAddress.Port;
        using var response = await shared.App.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task NoCorsHeadersAreSentByDefault()
    {
        using var post = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        post.Headers.Add("Origin", "http://evil.example");
        using var answered = await shared.App.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.False(answered.Headers.Contains("Access-Control-Allow-Origin"));

        using var preflight = Preflight("http://evil.example");
        using var refused = await shared.App.Http.SendAsync(preflight);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Methods"));
    }

    [Fact]
    public async Task WithoutAnApiKeyOptionNoKeyIsNeeded()
    {
        using var response = await shared.App.Http.GetAsync(new Uri("v1/models", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    internal static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "v1/chat/completions");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }

    internal static async Task<JsonElement> ErrorAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("error").Clone();
    }
}

/// <summary>An app with every security setting: an API key, a non-loopback allowed host and one CORS origin.</summary>
public sealed class SecuredApp : IAsyncLifetime
{
    /// <summary>The key the app requires.</summary>
    public const string ApiKey = "test-key-0123456789abcdef";

    /// <summary>The one origin allowed to call the app from a browser.</summary>
    public const string TrustedOrigin = "https://chat.example";

    /// <summary>The running app.</summary>
    public RunningApp App { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync() => App = await RunningApp.StartAsync(new Dictionary<string, string?>
    {
        ["Server:ApiKey"] = ApiKey,
        ["Server:CorsAllowedOrigins:0"] = TrustedOrigin,
        ["AllowedHosts"] = "api.example;127.0.0.1",
    });

    /// <inheritdoc />
    public async Task DisposeAsync() => await App.DisposeAsync();
}

/// <summary>The API key, configured hosts and CORS, with real HTTP requests.</summary>
public sealed class ConfiguredSecurityTests(SecuredApp secured) : IClassFixture<SecuredApp>
{
    private const string Chat = """{"messages":[{"role":"user","content":"Once"}],"max_tokens":2}""";

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-key-0123456789abcdef")]
    [InlineData("Bearer test-key-0123456789abcde")]
    [InlineData("Bearer test-key-0123456789abcdefX")]
    [InlineData("Basic dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZg==")]
    [InlineData("test-key-0123456789abcdef")]
    public async Task AMissingOrWrongKeyGets401WithABearerChallenge(string? authorization)
    {
        foreach (var (method, path) in new[] { (HttpMethod.Post, "v1/chat/completions"), (HttpMethod.Get, "v1/models"), (HttpMethod.Post, "v1/compressions"), (HttpMethod.Get, "metrics"), (HttpMethod.Get, "v1/nowhere") })
        {
            using var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Post)
            {
                request.Content = new StringContent(Chat, Encoding.UTF8, "application/json");
            }

            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var response = await secured.App.Http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {response.StatusCode}");
            Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
            var error = await DefaultSecurityTests.ErrorAsync(response);
            Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
            Assert.DoesNotContain(SecuredApp.ApiKey, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TheRightKeyIsAccepted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SecuredApp.ApiKey);
        using var response = await secured.App.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        using var metrics = new HttpRequestMessage(HttpMethod.Get, "metrics");
        metrics.Headers.TryAddWithoutValidation("Authorization", "bearer " + SecuredApp.ApiKey); // the scheme is case-insensitive
        using var scraped = await secured.App.Http.SendAsync(metrics);
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
    }

    [Fact]
    public async Task TheOfficialOpenAIClientSendsTheKey()
    {
        var client = new OpenAI.Chat.ChatClient("stories260K", new System.ClientModel.ApiKeyCredential(SecuredApp.ApiKey), secured.App.ClientOptions());
        var answer = await client.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("Once")], new OpenAI.Chat.ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.Equal(2, answer.Value.Usage.OutputTokenCount);

        var wrong = new OpenAI.Chat.ChatClient("stories260K", new System.ClientModel.ApiKeyCredential("not-the-key"), secured.App.ClientOptions());
        var ex = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() => wrong.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("Once")]));
        Assert.Equal(401, ex.Status);
    }

    [Fact]
    public async Task HealthStaysOpenWithoutAKey()
    {
        using var response = await secured.App.Http.GetAsync(new Uri("health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task AConfiguredHostIsAllowedAndOthersAreNot()
    {
        using var configured = new HttpRequestMessage(HttpMethod.Get, "health");
        configured.Headers.Host = "api.example";
        using var allowed = await secured.App.Http.SendAsync(configured);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);

        // Configuring hosts replaces the loopback defaults.
        foreach (string host in new[] { "evil.example", "localhost" })
        {
            using var other = new HttpRequestMessage(HttpMethod.Get, "health");
            other.Headers.Host = host;
            using var refused = await secured.App.Http.SendAsync(other);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }
    }

    [Fact]
    public async Task AConfiguredOriginGetsCorsHeadersIncludingThePreflight()
    {
        using var preflight = DefaultSecurityTests.Preflight(SecuredApp.TrustedOrigin);
        using var answer = await secured.App.Http.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal(SecuredApp.TrustedOrigin, Assert.Single(answer.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Contains("POST", string.Join(',', answer.Headers.GetValues("Access-Control-Allow-Methods")), StringComparison.Ordinal);
        string allowedHeaders = string.Join(',', answer.Headers.GetValues("Access-Control-Allow-Headers")).ToUpperInvariant();
        Assert.Contains("AUTHORIZATION", allowedHeaders, StringComparison.Ordinal);
        Assert.Contains("CONTENT-TYPE", allowedHeaders, StringComparison.Ordinal);

        using var post = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        post.Headers.Add("Origin", SecuredApp.TrustedOrigin);
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SecuredApp.ApiKey);
        using var posted = await secured.App.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(SecuredApp.TrustedOrigin, Assert.Single(posted.Headers.GetValues("Access-Control-Allow-Origin")));
    }

    [Fact]
    public async Task AnOriginNotConfiguredGetsNoCorsHeaders()
    {
        using var preflight = DefaultSecurityTests.Preflight("https://evil.example");
        using var answer = await secured.App.Http.SendAsync(preflight);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));
    }
}

/// <summary><c>Server:AllowAnonymousMetrics</c> opens <c>/metrics</c> alone when an API key is set.</summary>
public sealed class AnonymousMetricsTests : IAsyncLifetime
{
    private RunningApp _app = null!;

    public async Task InitializeAsync() => _app = await RunningApp.StartAsync(new Dictionary<string, string?>
    {
        ["Server:ApiKey"] = SecuredApp.ApiKey,
        ["Server:AllowAnonymousMetrics"] = "true",
    });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task MetricsAreOpenButTheApiStillNeedsTheKey()
    {
        using var metrics = await _app.Http.GetAsync(new Uri("metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);

        using var models = await _app.Http.GetAsync(new Uri("v1/models", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
    }
}
