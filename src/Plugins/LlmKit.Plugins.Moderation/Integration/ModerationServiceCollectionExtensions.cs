using System.Diagnostics.Metrics;
using LlmKit.Plugins.Moderation;
using LlmKit.Plugins.Moderation.Integration;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers LlmKit's domain moderation: the moderator, the SK filters and the plugin.</summary>
public static class ModerationServiceCollectionExtensions
{
    /// <summary>The configuration section name used by convention: "Moderation".</summary>
    public const string DefaultConfigurationSection = "Moderation";

    /// <summary>The service key of an optional <see cref="IChatClient"/> dedicated to generated verdicts (else the unkeyed one is used).</summary>
    public const string VerdictChatClientKey = "LlmKit.Moderation.Verdict";

    /// <summary>
    /// Registers a singleton <see cref="DomainModerator"/> configured by <paramref name="configure"/>, the
    /// <see cref="ModerationPromptRenderFilter"/> and <see cref="ModerationFunctionInvocationFilter"/> (which a
    /// <see cref="Kernel"/> built from these services applies to every call) and <see cref="ModerationPlugin"/>.
    /// The moderator uses the registered <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings (else LlmKit's
    /// hashing generator), <see cref="ITokenScorer"/> if any, and, for generated verdicts only, the chat client keyed
    /// <see cref="VerdictChatClientKey"/>, the unkeyed <see cref="IChatClient"/>, or the <see cref="IChatCompletionService"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddDomainModeration(this IServiceCollection services, Action<ModerationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ModerationOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>Registers moderation (see the other overload) with options bound from <paramref name="configuration"/> (e.g. the "Moderation" section).</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section holding <see cref="ModerationOptions"/>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddDomainModeration(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ModerationOptions>().Bind(configuration);
        return AddCore(services);
    }

    /// <summary>Registers moderation on a kernel builder's services and adds <see cref="ModerationPlugin"/> as plugin "moderation".</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder.</returns>
    public static IKernelBuilder AddDomainModeration(this IKernelBuilder builder, Action<ModerationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddDomainModeration(configure);
        builder.Plugins.AddFromType<ModerationPlugin>(ModerationPlugin.DefaultPluginName);
        return builder;
    }

    /// <summary>Registers moderation on a kernel builder's services with options bound from <paramref name="configuration"/>, and adds the plugin.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configuration">The configuration section holding <see cref="ModerationOptions"/>.</param>
    /// <returns>The builder.</returns>
    public static IKernelBuilder AddDomainModeration(this IKernelBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddDomainModeration(configuration);
        builder.Plugins.AddFromType<ModerationPlugin>(ModerationPlugin.DefaultPluginName);
        return builder;
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ModerationOptions>>().Value;
            var scorer = sp.GetService<ITokenScorer>();
            bool hasExamples = options.InDomainExamples.Count >= 2 && options.OffDomainExamples.Count >= 2;

            // Resolve a chat client only when a generated verdict will be used: a moderated IChatClient registration
            // (UseModeration) would otherwise depend on itself.
            bool needsChat = scorer is null && (options.DomainMode is DomainCheckMode.Verdict or DomainCheckMode.Both
                || (options.DomainMode == DomainCheckMode.Auto && !hasExamples));
            IChatClient? chat = needsChat
                ? sp.GetKeyedService<IChatClient>(VerdictChatClientKey) ?? sp.GetService<IChatClient>() ?? sp.GetService<IChatCompletionService>()?.AsChatClient()
                : null;
            return new DomainModerator(
                options,
                sp.GetService<IEmbeddingGenerator<string, Embedding<float>>>(),
                scorer,
                chat,
                sp.GetService<ILogger<DomainModerator>>(),
                sp.GetService<IMeterFactory>());
        });
        services.AddSingleton<ModerationPromptRenderFilter>();
        services.AddSingleton<ModerationFunctionInvocationFilter>();
        services.AddSingleton<IPromptRenderFilter>(sp => sp.GetRequiredService<ModerationPromptRenderFilter>());
        services.AddSingleton<IFunctionInvocationFilter>(sp => sp.GetRequiredService<ModerationFunctionInvocationFilter>());
        services.AddSingleton<ModerationPlugin>();
        return services;
    }
}
