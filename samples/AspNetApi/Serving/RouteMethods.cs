using Microsoft.AspNetCore.Routing.Patterns;

namespace LlmKit.Samples.AspNetApi.Serving;

/// <summary>
/// The HTTP methods mapped for a literal path, read from the app's own endpoints, so the fallback can tell a wrong
/// method (405 with <c>Allow</c>) from an unknown path (404). The catch-all fallback otherwise hides ASP.NET's 405.
/// </summary>
/// <param name="endpoints">The app's endpoints.</param>
public sealed class RouteMethods(EndpointDataSource endpoints)
{
    /// <summary>The methods mapped for <paramref name="path"/>, sorted; empty when no method-specific endpoint has that path.</summary>
    /// <param name="path">The request path.</param>
    public IReadOnlyList<string> AllowedFor(PathString path)
    {
        string wanted = (path.Value ?? "/").TrimEnd('/');
        var methods = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints.Endpoints)
        {
            if (endpoint is RouteEndpoint route
                && route.Metadata.GetMetadata<HttpMethodMetadata>() is { } mapped
                && IsLiteral(route.RoutePattern)
                && string.Equals("/" + route.RoutePattern.RawText?.Trim('/'), wanted, StringComparison.OrdinalIgnoreCase))
            {
                methods.UnionWith(mapped.HttpMethods);
            }
        }

        return [.. methods];
    }

    private static bool IsLiteral(RoutePattern pattern) => pattern.Parameters.Count == 0;
}
