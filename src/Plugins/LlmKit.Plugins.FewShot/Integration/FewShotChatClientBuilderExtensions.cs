using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Selection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.AI;

/// <summary>Adds <see cref="FewShotChatClient"/> to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class FewShotChatClientBuilderExtensions
{
    /// <summary>Injects examples chosen by <paramref name="selector"/> into every request.</summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="selector">Chooses the examples.</param>
    /// <param name="configure">Adjusts count, instruction and ordering.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseFewShot(this ChatClientBuilder builder, IFewShotSelector selector, Action<FewShotChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(selector);
        return builder.Use((inner, services) => Create(inner, services, selector, configure));
    }

    /// <summary>
    /// Injects examples chosen by the <see cref="IFewShotSelector"/> registered with
    /// <see cref="FewShotServiceCollectionExtensions.AddFewShot(IServiceCollection, Action{FewShotOptions}?)"/>;
    /// count, instruction and ordering default to the registered <c>FewShotOptions</c>.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Adjusts count, instruction and ordering.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="IFewShotSelector"/> is registered (when the pipeline is built).</exception>
    public static ChatClientBuilder UseFewShot(this ChatClientBuilder builder, Action<FewShotChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var selector = services.GetService<IFewShotSelector>()
                ?? throw new InvalidOperationException("UseFewShot() without a selector needs an IFewShotSelector in the services: call services.AddFewShot(...) first, or pass a selector.");
            return Create(inner, services, selector, configure);
        });
    }

    private static FewShotChatClient Create(
        IChatClient inner, IServiceProvider services, IFewShotSelector selector, Action<FewShotChatClientOptions>? configure)
    {
        var options = new FewShotChatClientOptions();
        if (services.GetService<IOptions<FewShotOptions>>() is { } registered)
        {
            options.Count = registered.Value.Count;
            options.Instruction = registered.Value.Instruction;
            options.Ordering = registered.Value.Ordering;
        }

        configure?.Invoke(options);
        return new FewShotChatClient(
            inner, selector, options, services.GetService<ILogger<FewShotChatClient>>());
    }
}
