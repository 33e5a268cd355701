namespace LlmKit.AspNetApi.Tests;

/// <summary>One app for the tests that need no special limits (started once per test run).</summary>
public sealed class SharedApp : IAsyncLifetime
{
    /// <summary>The running app.</summary>
    public RunningApp App { get; private set; } = null!;

    /// <summary>Small limits so the limit tests stay cheap: a 64 KiB body, 64 prompt tokens, 300 completion tokens.</summary>
    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["Server:MaxRequestBodyBytes"] = "65536",
        ["Server:MaxPromptTokens"] = "64",
        ["Server:MaxCompletionTokens"] = "500",
        ["Server:MaxConcurrentGenerations"] = "2",
    };

    /// <inheritdoc />
    public async Task InitializeAsync() => App = await RunningApp.StartAsync(Settings);

    /// <inheritdoc />
    public async Task DisposeAsync() => await App.DisposeAsync();
}

/// <summary>The collection sharing <see cref="SharedApp"/>.</summary>
[CollectionDefinition(Name)]
public sealed class SharedAppCollection : ICollectionFixture<SharedApp>
{
    /// <summary>The collection name.</summary>
    public const string Name = "shared app";
}
