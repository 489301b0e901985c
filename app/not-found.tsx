import { StatusPage } from "@/components/site/status-page";

export default function NotFound() {
  return (
    <StatusPage code="404" title="This page is not here">
      <p>The link may be old, or the lesson may have moved. The course map on the home page lists everything there is.</p>
    </StatusPage>
  );
}
